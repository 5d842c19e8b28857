"""Telemetry lines on stdout (EMF records, decision records): written as they come, flushed once
per request by the request middleware (after its own log line), so one request costs one write
system call however many lines it produced. Lambda reads the function's stdout line by line."""

from __future__ import annotations

import sys


def write_stdout(text: str) -> None:
    """Buffer ``text`` on the current stdout (flushed by :func:`flush_stdout`)."""
    sys.stdout.write(text)


def flush_stdout() -> None:
    """Flush the current stdout (cheap when the request log line already flushed it)."""
    sys.stdout.flush()

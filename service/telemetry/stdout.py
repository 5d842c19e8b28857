"""Telemetry lines on stdout (EMF records, decision records). When the request line goes straight
to stdout, the request-log writer encodes them with it and writes them in its one write
(:mod:`service.telemetry.request_record`); otherwise they are written here as they come and
flushed once per request, so one request still costs one write system call however many lines it
produced. Lambda reads the function's stdout line by line.

:class:`UtcStamps` times those lines (the request line and the decision records): the date and
time to the second are formatted once per second and the milliseconds looked up in a table, so a
timestamp costs a clock read and a string join rather than a ``strftime`` per line. A request's
lines share one reading, formatted once (the request-log writer passes it on)."""

from __future__ import annotations

import codecs
import os
import sys
import time
from collections.abc import Callable
from typing import Any


def write_stdout(text: str) -> None:
    """Buffer ``text`` on the current stdout (flushed by :func:`flush_stdout`)."""
    sys.stdout.write(text)


def flush_stdout() -> None:
    """Flush the current stdout (cheap when the request log line already flushed it)."""
    sys.stdout.flush()


def write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` to file descriptor ``fd`` (one system call unless it is short)."""
    written = os.write(fd, data)
    while written < len(data):  # a short write (a signal, a full pipe): write the rest
        data = data[written:]
        written = os.write(fd, data)


def utf8_fd(stream: Any) -> int:
    """The file descriptor under the text stream ``stream`` when UTF-8 bytes written there
    directly are what the stream itself would write (a UTF-8 stream on a real file, pipe or
    terminal), else -1 (``io.StringIO``, pytest's capture, another encoding)."""
    encoding = getattr(stream, "encoding", None)
    try:
        if not isinstance(encoding, str) or codecs.lookup(encoding).name != "utf-8":
            return -1
        fd = stream.fileno()
    except (LookupError, OSError, ValueError, AttributeError):  # no file under it, or closed
        return -1
    return fd if isinstance(fd, int) and fd >= 0 else -1


class UtcStamps:
    """``now()`` as ``YYYY-MM-DDTHH:MM:SS.mmm``, from ``clock`` (seconds); each kind of line adds
    its own zone suffix (the request line ``+00:00``, the decision records ``Z``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        # A 1001st entry as a guard: the index stays in the table even if a fraction of a second
        # ever rounded up to 1000 ms.
        self._millis = (*(f".{ms:03d}" for ms in range(1000)), ".999")
        self._second = -1
        self._second_text = ""

    def now(self) -> str:
        """The current time, milliseconds truncated."""
        return self.at(self.clock())

    def at(self, now: float) -> str:
        """``now`` (seconds since the epoch, as ``time.time()``), milliseconds truncated: a
        request's lines share one clock reading."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._second_text + self._millis[int((now - second) * 1000)]

"""Progress on stderr while a job runs: rows done, rows per second, rows rejected."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    """Counts rows and prints a line at most every ``every`` seconds (and one at the end)."""

    stream: TextIO | None = None
    every: float = 2.0
    quiet: bool = False
    rows: int = 0
    rejected: int = 0
    flagged: int = 0
    started: float = field(default_factory=time.perf_counter)
    _last: float = 0.0

    def add(self, rows: int, rejected: int, flagged: int) -> None:
        self.rows += rows
        self.rejected += rejected
        self.flagged += flagged
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._say()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def done(self) -> None:
        self._say()

    def _say(self) -> None:
        if self.quiet:
            return
        elapsed = max(self.seconds, 1e-9)
        print(
            f"[score] {self.rows:,} rows  {self.rows / elapsed:,.0f} rows/s  "
            f"rejected {self.rejected:,}  flagged {self.flagged:,}  elapsed {elapsed:.1f}s",
            file=self.stream or sys.stderr,
            flush=True,
        )

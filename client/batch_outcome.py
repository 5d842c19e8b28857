"""The outcome of scoring a file: one prediction or at least one rejection per row."""

from __future__ import annotations

from dataclasses import dataclass, field

from client.api import ApiError, Prediction


@dataclass(frozen=True)
class Rejection:
    """Why one row was not scored. ``row`` is 1-based, counting data rows (header excluded)."""

    row: int
    field: str
    problem: str


@dataclass
class BatchOutcome:
    """Result of scoring a file: one prediction or at least one rejection per row."""

    rows: int
    predictions: dict[int, Prediction] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    model_version: str = ""
    threshold: float | None = None
    requests: int = 0
    error: ApiError | None = None

    @property
    def scored(self) -> int:
        return len(self.predictions)

    @property
    def flagged(self) -> int:
        return sum(p.is_fraud for p in self.predictions.values())

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({r.row for r in self.rejections})

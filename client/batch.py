"""Batch scoring of a PaySim CSV through the API: chunking, rejected rows, the scored table.

Every input row ends up either scored or listed as rejected with a reason (the API's own where it
gave one): a chunk the API rejects with 422 is resent without the rows it named, and a chunk too
large for the body limit (413) is split.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from client.api import ApiError, ApiRejected, FraudApiClient, ProblemDetail
from client.batch_csv import CsvError, read_csv, transactions_from
from client.batch_outcome import BatchOutcome, Rejection
from client.batch_tables import (
    DECISION_COLUMN,
    PROBABILITY_COLUMN,
    REASON_COLUMN,
    display_frame,
    rejections_frame,
    scored_frame,
)

# Re-exported: reading the CSV and building the result tables live in their own modules.
__all__ = [
    "DECISION_COLUMN",
    "DEFAULT_MAX_BATCH",
    "PROBABILITY_COLUMN",
    "REASON_COLUMN",
    "BatchOutcome",
    "CsvError",
    "Rejection",
    "display_frame",
    "read_csv",
    "rejections_frame",
    "score_transactions",
    "scored_frame",
    "transactions_from",
]

#: Batch size used when GET /model does not tell the service's limit (its documented default).
DEFAULT_MAX_BATCH: Final = 1000

# The API names a batch item's field as ``transactions[i].field`` (the index is in the request).
_ITEM_FIELD = re.compile(r"transactions\[(\d+)\]\.?(.*)$")
_AT_MOST = re.compile(r"at most (\d+)")


def score_transactions(
    client: FraudApiClient,
    transactions: Sequence[dict[str, Any]],
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> BatchOutcome:
    """Score ``transactions`` in chunks of at most ``max_batch``; report ``progress(done, total)``.

    A fatal error (API down, 5xx) stops the run: the rows not yet scored are listed as rejected
    with that error, and ``outcome.error`` holds it.
    """
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    outcome = BatchOutcome(rows=len(transactions))
    total = len(transactions)
    for start in range(0, total, max_batch):
        chunk = list(range(start, min(start + max_batch, total)))
        try:
            _score_chunk(client, transactions, chunk, outcome)
        except ApiError as exc:
            outcome.error = exc
            done = set(outcome.predictions) | {r.row - 1 for r in outcome.rejections}
            outcome.rejections.extend(
                Rejection(i + 1, "", f"not scored: {exc.describe()}")
                for i in range(start, total)
                if i not in done
            )
            break
        finally:
            if progress is not None:
                progress(min(start + max_batch, total), total)
    outcome.rejections.sort(key=lambda r: (r.row, r.field))
    return outcome


def _score_chunk(
    client: FraudApiClient,
    transactions: Sequence[dict[str, Any]],
    indices: list[int],
    outcome: BatchOutcome,
) -> None:
    """Score rows ``indices``; rows the API names in a 422 are recorded and the rest resent."""
    pending = list(indices)
    while pending:
        outcome.requests += 1
        try:
            result = client.predict_batch([transactions[i] for i in pending])
        except ApiRejected as exc:
            if exc.status == 413 and len(pending) > 1:
                half = len(pending) // 2
                _score_chunk(client, transactions, pending[:half], outcome)
                _score_chunk(client, transactions, pending[half:], outcome)
                return
            named = _named_items(exc.details, len(pending))
            limit = _batch_limit(exc.details)
            if not named and limit is not None and limit < len(pending):
                # The service's limit is lower than the one the client assumed: re-chunk.
                for start in range(0, len(pending), limit):
                    _score_chunk(client, transactions, pending[start : start + limit], outcome)
                return
            if not named:
                # Nothing points at one row (e.g. a limit on the whole batch): list them all.
                reason = exc.describe()
                outcome.rejections.extend(Rejection(i + 1, "", reason) for i in pending)
                return
            for position, problems in named.items():
                row = pending[position] + 1
                outcome.rejections.extend(Rejection(row, f, p) for f, p in problems)
            pending = [i for pos, i in enumerate(pending) if pos not in named]
            continue
        for i, prediction in zip(pending, result.predictions, strict=True):
            outcome.predictions[i] = prediction
        outcome.model_version = result.model_version or outcome.model_version
        if result.predictions:
            outcome.threshold = result.predictions[0].threshold
        return


def _named_items(details: Sequence[ProblemDetail], size: int) -> dict[int, list[tuple[str, str]]]:
    """Map the API's ``transactions[i].field`` details to request positions."""
    named: dict[int, list[tuple[str, str]]] = {}
    for detail in details:
        match = _ITEM_FIELD.search(detail.field)
        if match is None:
            continue
        position = int(match.group(1))
        if 0 <= position < size:
            named.setdefault(position, []).append((match.group(2) or "(row)", detail.problem))
    return named


def _batch_limit(details: Sequence[ProblemDetail]) -> int | None:
    """The limit in a "transactions: must contain at most N transactions" detail, if any."""
    for detail in details:
        if detail.field == "transactions":
            match = _AT_MOST.search(detail.problem)
            if match is not None and int(match.group(1)) > 0:
                return int(match.group(1))
    return None

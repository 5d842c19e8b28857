"""Golden transactions: rows written into a model's metadata at convert time with the outputs the
model gave them then, so a deployment can check that the served model, in its real runtime, still
gives them (the CodeDeploy pre-traffic hook, service/aws/deploy_hook.py).

Metadata key :data:`GOLDEN_KEY`, a JSON object::

    {"transactions": [{"type": "TRANSFER", "step": 1.0, ...}, ...],
     "probability": [0.99..., ...], "threshold": 0.42}

Each transaction holds exactly the model's inputs. The decision to expect is recomputed from the
threshold in use (``FRAUD_THRESHOLD`` may override the model's), except for rows whose expected
probability is within the tolerance of that threshold, where either decision is accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

GOLDEN_KEY: Final = "golden_transactions"
#: Largest |served - expected| probability accepted: float32 rounding differs by a few ulps
#: between batch and single-row kernels (docs/api.md), far below this.
PROBABILITY_ATOL: Final = 1e-5


class GoldenError(ValueError):
    """The golden metadata is malformed; the message says how."""


@dataclass(frozen=True)
class GoldenSet:
    """Golden rows and their convert-time probabilities."""

    transactions: tuple[dict[str, Any], ...]
    probabilities: tuple[float, ...]
    threshold: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "transactions": list(self.transactions),
                "probability": list(self.probabilities),
                "threshold": self.threshold,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def request_body(self) -> dict[str, Any]:
        """A POST /predict batch of the golden rows, ids ``golden-0`` ... in order."""
        return {
            "transactions": [
                {"transaction_id": f"golden-{i}", **tx} for i, tx in enumerate(self.transactions)
            ]
        }

    def check(
        self,
        predictions: Sequence[Mapping[str, Any]],
        threshold: float,
        rows: Sequence[int] | None = None,
    ) -> list[str]:
        """Problems with ``predictions`` (a /predict batch answer's items) against the set, at the
        served ``threshold``; an empty list means the model reproduced every golden row.

        ``rows``: the golden rows the predictions are for (default: all, in order).
        """
        rows = range(len(self.probabilities)) if rows is None else rows
        if len(predictions) != len(rows):
            return [f"expected {len(rows)} predictions, got {len(predictions)}"]
        problems = []
        for index, item in zip(rows, predictions, strict=True):
            expected = self.probabilities[index]
            got = item.get("probability_fraud")
            if not isinstance(got, int | float) or not math.isfinite(got):
                problems.append(f"golden-{index}: no probability in the answer")
                continue
            if abs(got - expected) > PROBABILITY_ATOL:
                problems.append(f"golden-{index}: probability {got!r}, expected {expected!r}")
            near = abs(expected - threshold) <= PROBABILITY_ATOL
            if not near and item.get("is_fraud") is not (expected >= threshold):
                problems.append(
                    f"golden-{index}: is_fraud {item.get('is_fraud')!r} at threshold "
                    f"{threshold!r}, expected {expected >= threshold}"
                )
        return problems


def parse_golden(text: str) -> GoldenSet:
    """Read the :data:`GOLDEN_KEY` metadata value; raises GoldenError."""
    try:
        data = json.loads(text)
    except ValueError:
        raise GoldenError(f"{GOLDEN_KEY} is not JSON") from None
    if not isinstance(data, dict):
        raise GoldenError(f"{GOLDEN_KEY} must be a JSON object")
    transactions, probabilities = data.get("transactions"), data.get("probability")
    threshold = data.get("threshold")
    if not (isinstance(transactions, list) and all(isinstance(t, dict) for t in transactions)):
        raise GoldenError(f"{GOLDEN_KEY}.transactions must be a list of objects")
    if not (
        isinstance(probabilities, list)
        and len(probabilities) == len(transactions)
        and all(isinstance(p, int | float) and 0 <= p <= 1 for p in probabilities)
    ):
        raise GoldenError(f"{GOLDEN_KEY}.probability must hold one probability per transaction")
    if not transactions:
        raise GoldenError(f"{GOLDEN_KEY} holds no transactions")
    if not isinstance(threshold, int | float):
        raise GoldenError(f"{GOLDEN_KEY}.threshold must be a number")
    return GoldenSet(tuple(transactions), tuple(float(p) for p in probabilities), float(threshold))


def golden_of(metadata_props: Mapping[str, str]) -> GoldenSet | None:
    """The golden set in a model's metadata, None when it has none (older exports)."""
    text = metadata_props.get(GOLDEN_KEY)
    return None if text is None else parse_golden(text)

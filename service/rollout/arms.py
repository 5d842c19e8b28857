"""A/B arm assignment: a deterministic function of the transaction id (else the request id).

``arm_of(key, share)`` is ``B`` when the first 8 bytes of ``sha256(key)``, read as a big-endian
integer and divided by 2**64, fall below ``share``; ``A`` otherwise. It depends on nothing but the
key and the share, so a transaction gets the same arm in a batch as alone, on every instance and
after a restart, and anyone can recompute it (``python -c`` or SQL with a sha256 function). An
integer id counts as its decimal text (``42`` and ``"42"`` share an arm). Raising the share only
moves transactions from A to B, never back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

ARM_A: Final = "A"  # the primary model
ARM_B: Final = "B"  # the A/B model (FRAUD_AB_MODEL_URI)
_SCALE: Final = float(2**64)


def bucket(key: str) -> float:
    """Where ``key`` falls in [0, 1): the first 8 bytes of its sha256 over 2**64."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def arm_of(key: str, share: float) -> str:
    """``B`` for a ``share`` of keys, ``A`` for the rest."""
    return ARM_B if bucket(key) < share else ARM_A


def assign(transaction_ids: Sequence[str | int | None], request_id: str, share: float) -> list[str]:
    """The arm of each transaction of a request: by its id, or by the request id without one."""
    if share <= 0:
        return [ARM_A] * len(transaction_ids)
    if share >= 1:
        return [ARM_B] * len(transaction_ids)
    by_request = arm_of(request_id, share)
    return [by_request if tx is None else arm_of(str(tx), share) for tx in transaction_ids]

"""A PaySim-like transaction generator: the default data source when the real file is absent.

What it reproduces (numbers in :mod:`train.synthetic_profile`, comparison in docs/generator.md):

- 744 hourly steps; legitimate activity follows a daily cycle (almost none from 03:00 to 08:59)
  and drops sharply after day 17, as in the real file; frauds keep a steady pace at every hour;
- the type mix of the full file and per-type amount distributions of real rows;
- fraud (about 0.13% of rows) only as a TRANSFER from a victim to a mule account followed, in the
  same step, by the mule's CASH_OUT of the same amount; the TRANSFER empties the victim's
  account, in several transfers of at most 10,000,000 when the balance is larger; the mule's
  balances show 0 before and after, as in PaySim;
- merchants (names starting with M) as PAYMENT destinations, with zero balances;
- PaySim's bookkeeping quirks: origin balances of 0 while money goes out, new balances floored
  at 0, destination balances moved by other activity within the step;
- isFlaggedFraud: a few fraud TRANSFERs above 200,000 flagged and halted (origin balance kept).

Everything is vectorised numpy: a million rows take a couple of seconds.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from train import synthetic_profile as P
from train.data_checks import TYPE_DTYPE

__all__ = ["generate"]

_NAME_LOW, _NAME_HIGH = 1_000_000, 2_147_483_647
_ORDER_ONLY = ("key", "sub")  # columns that only order rows: random key, pair position


def _quantiles(rng: np.random.Generator, knots: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Sample row i from the piecewise-linear quantile function ``knots[rows[i]]``."""
    u = rng.random(len(rows))
    j = np.clip(np.searchsorted(P.KNOT_P, u, side="right") - 1, 0, len(P.KNOT_P) - 2)
    frac = (u - P.KNOT_P[j]) / (P.KNOT_P[j + 1] - P.KNOT_P[j])
    low, high = knots[rows, j], knots[rows, j + 1]
    return low + frac * (high - low)


def _log_money(rng: np.random.Generator, knots: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.round(10.0 ** _quantiles(rng, knots, rows), 2)


def _drift(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    signed_log = _quantiles(rng, P.DEST_DRIFT_SLOG, rows)
    return np.sign(signed_log) * (10.0 ** np.abs(signed_log) - 1.0)


def _step_weights(rng: np.random.Generator) -> np.ndarray:
    steps = np.arange(1, P.N_STEPS + 1)
    day = rng.lognormal(0.0, P.DAY_SIGMA, size=P.N_STEPS // 24 + 1)
    weights = P.HOUR_PROFILE[steps % 24] * day[(steps - 1) // 24]
    weights[steps >= P.QUIET_FROM_STEP] *= P.QUIET_FACTOR
    return weights / weights.sum()


def _destination(
    rng: np.random.Generator, kinds: np.ndarray, amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Old and new destination balances of legitimate rows, following PaySim's patterns."""
    cumulative = np.cumsum(P.DEST_PATTERN[kinds], axis=1)
    pattern = (rng.random(len(kinds))[:, None] > cumulative[:, :-1]).sum(axis=1)
    old = _log_money(rng, P.DEST_LOG10, kinds)
    old[pattern <= P.DEST_ZERO_POS] = 0.0
    # An exact CASH_IN pays out of the destination's balance: it must hold the amount.
    short = (pattern == P.DEST_EXACT) & (P.DEST_SIGN[kinds] < 0) & (old < amount)
    old[short] += amount[short]
    new = np.maximum(old + P.DEST_SIGN[kinds] * amount, 0.0)
    zero_pos = pattern == P.DEST_ZERO_POS
    scale = 10.0 ** _quantiles(rng, P.DEST_ZERO_POS_LOG10, kinds)
    new[zero_pos] = (amount * scale)[zero_pos]
    drifting = pattern == P.DEST_DRIFT
    new[drifting] = np.maximum(old + _drift(rng, kinds) * amount, 0.0)[drifting]
    new[(pattern == P.DEST_ZERO_ZERO) | (pattern == P.DEST_EMPTIED)] = 0.0
    return old, np.round(new, 2)


def _legit(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    kinds = rng.choice(len(P.LEGIT_MIX), size=n, p=P.LEGIT_MIX).astype(np.int8)
    step = rng.choice(P.N_STEPS, size=n, p=_step_weights(rng)) + 1
    amount = _log_money(rng, P.AMOUNT_LOG10, kinds)
    old_orig = _log_money(rng, P.ORIG_LOG10, kinds)
    old_orig[rng.random(n) < P.ORIG_ZERO[kinds]] = 0.0
    # PaySim floors outgoing balances at 0 rather than refusing the transaction.
    new_orig = np.where(kinds == P.CASH_IN, old_orig + amount, np.maximum(old_orig - amount, 0.0))
    old_dest, new_dest = _destination(rng, kinds, amount)
    return {
        "step": step,
        "type": kinds,
        "amount": amount,
        "oldbalanceOrg": old_orig,
        "newbalanceOrig": np.round(new_orig, 2),
        "oldbalanceDest": old_dest,
        "newbalanceDest": new_dest,
        "isFraud": np.zeros(n, dtype=np.int8),
        "isFlaggedFraud": np.zeros(n, dtype=np.int8),
        "orig": rng.integers(_NAME_LOW, _NAME_HIGH, size=n),
        "dest": np.full(n, -1, dtype=np.int64),  # -1: drawn later from the shared account pool
        "key": rng.random(n),
        "sub": np.zeros(n, dtype=np.int64),
    }


def _fraud(rng: np.random.Generator, budget: int) -> dict[str, np.ndarray]:
    """At most ``budget`` fraud rows: TRANSFER + CASH_OUT pairs, at least one pair."""
    events = budget // 2 + 8
    remainder = _log_money(rng, P.FRAUD_REMAINDER_LOG10[None, :], np.zeros(events, np.intp))
    chunks = rng.geometric(1.0 - P.FRAUD_EXTRA_CHUNK_P, size=events)
    chunks[0] = 1  # so that one pair always fits
    balance = remainder + (chunks - 1) * P.TRANSFER_CAP
    keep = np.cumsum(2 * chunks) <= budget
    balance, chunks = balance[keep], chunks[keep]
    n_events = len(balance)
    event = np.repeat(np.arange(n_events), chunks)
    part = np.arange(len(event)) - np.repeat(np.cumsum(chunks) - chunks, chunks)
    m = len(event)
    old = np.round(balance[event] - part * P.TRANSFER_CAP, 2)
    amount = np.minimum(old, P.TRANSFER_CAP)
    flagged = ((amount > P.FLAG_AMOUNT) & (rng.random(m) < P.FLAG_RATE)).astype(np.int8)
    # A flagged transfer is halted: PaySim leaves the origin balance unchanged.
    new = np.where(flagged == 1, old, np.round(old - amount, 2))
    visible = rng.random(m) < P.FRAUD_DEST_VISIBLE
    mule_old = np.where(visible, _log_money(rng, P.DEST_LOG10, np.full(m, P.TRANSFER)), 0.0)
    mule_new = np.where(visible, mule_old + amount, 0.0)
    cashout = np.full(m, P.CASH_OUT)
    agent_old = _log_money(rng, P.DEST_LOG10, cashout)
    agent_old[rng.random(m) < P.FRAUD_CASHOUT_DEST_ZERO] = 0.0
    exact = rng.random(m) < P.FRAUD_CASHOUT_DEST_EXACT
    agent_new = np.where(
        exact, agent_old + amount, np.maximum(agent_old + _drift(rng, cashout) * amount, 0.0)
    )
    step = rng.integers(1, P.N_STEPS + 1, size=n_events)[event]
    key = rng.random(n_events)[event]
    victim = rng.integers(_NAME_LOW, _NAME_HIGH, size=n_events)[event]
    mule = rng.integers(_NAME_LOW, _NAME_HIGH, size=n_events)[event]
    ones, zeros = np.ones(m, dtype=np.int8), np.zeros(m, dtype=np.int8)

    def both(transfer: np.ndarray, cash_out: np.ndarray) -> np.ndarray:
        return np.concatenate([transfer, cash_out])

    return {
        "step": both(step, step),
        "type": both(np.full(m, P.TRANSFER, np.int8), np.full(m, P.CASH_OUT, np.int8)),
        "amount": both(amount, amount),
        "oldbalanceOrg": both(old, amount),
        "newbalanceOrig": both(new, np.zeros(m)),
        "oldbalanceDest": both(mule_old, agent_old),
        "newbalanceDest": both(np.round(mule_new, 2), np.round(agent_new, 2)),
        "isFraud": both(ones, ones),
        "isFlaggedFraud": both(flagged, zeros),
        # The mule cashes out: the CASH_OUT's origin is the TRANSFER's destination.
        "orig": both(victim, mule),
        "dest": both(mule, np.full(m, -1, dtype=np.int64)),
        "key": both(key, key),
        "sub": both(2 * part, 2 * part + 1),
    }


def _names(prefix: str | pa.Array, ids: np.ndarray) -> pd.Series:
    text = pc.binary_join_element_wise(prefix, pa.array(ids).cast(pa.string()), "")
    return pa.chunked_array([text]).to_pandas()


def generate(n_rows: int, *, seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """Generate ``n_rows`` PaySim-like transactions, sorted by step, deterministic for ``seed``.

    The frame has the PaySim columns in file order with the loader's canonical dtypes. Any
    ``n_rows >= 2`` holds at least one fraud TRANSFER/CASH_OUT pair. With ``progress``, stages
    and timings go to stderr.
    """
    if int(n_rows) != n_rows or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    n_rows = int(n_rows)
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            elapsed = time.perf_counter() - started
            print(f"[synthetic {elapsed:5.1f}s] {message}", file=sys.stderr)

    rng = np.random.default_rng(seed)
    budget = max(2, round(n_rows * P.FRAUD_ROW_RATE)) if n_rows >= 2 else 0
    fraud = _fraud(rng, budget) if budget else None
    n_fraud = len(fraud["step"]) if fraud else 0
    say(f"{n_fraud:,} fraud rows; generating {n_rows - n_fraud:,} legitimate rows")
    legit = _legit(rng, n_rows - n_fraud)
    parts = [legit, fraud] if fraud else [legit]
    merged = {name: np.concatenate([part[name] for part in parts]) for name in legit}
    del legit, fraud, parts
    order = np.lexsort((merged["sub"], merged["key"], merged["step"]))
    cols = {name: values[order] for name, values in merged.items() if name not in _ORDER_ONLY}
    del merged
    say("naming accounts")
    payment = cols["type"] == P.PAYMENT
    dest = cols["dest"]
    pooled = (dest < 0) & ~payment
    pool = rng.integers(_NAME_LOW, _NAME_HIGH, size=max(1, int(pooled.sum()) // 3))
    dest[pooled] = pool[rng.integers(0, len(pool), size=int(pooled.sum()))]
    dest[payment] = rng.integers(_NAME_LOW, _NAME_HIGH, size=int(payment.sum()))
    frame = pd.DataFrame(
        {
            "step": cols["step"].astype(np.int32),
            "type": pd.Categorical.from_codes(cols["type"], dtype=TYPE_DTYPE),
            "amount": cols["amount"].astype(np.float32),
            "nameOrig": _names("C", cols["orig"]),
            "oldbalanceOrg": cols["oldbalanceOrg"].astype(np.float32),
            "newbalanceOrig": cols["newbalanceOrig"].astype(np.float32),
            "nameDest": _names(pc.if_else(pa.array(payment), "M", "C"), dest),
            "oldbalanceDest": cols["oldbalanceDest"].astype(np.float32),
            "newbalanceDest": cols["newbalanceDest"].astype(np.float32),
            "isFraud": cols["isFraud"].astype(np.int8),
            "isFlaggedFraud": cols["isFlaggedFraud"].astype(np.int8),
        },
        copy=False,
    )
    say(f"done: {len(frame):,} rows, {n_fraud:,} fraud rows")
    return frame

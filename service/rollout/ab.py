"""A/B answers: each transaction is scored by the model of its arm and says which model that was.

Arms come from :func:`service.rollout.arms.assign` (a hash of ``transaction_id``, else of the
request id). Each arm's rows are scored in one ``session.run`` of its model, so a request costs at
most one run per arm. Every prediction carries ``model_version`` and ``threshold`` (a batch's too;
the batch's top-level ``model_version``/``threshold`` stay the primary's for older clients). The
decision log gets ``arm`` and ``arm_model_version`` per transaction (its request-wide
``model_version`` is the arm's when all rows share one arm, else the primary's), and the metrics
:data:`ARM_A_TRANSACTIONS`, :data:`ARM_A_FLAGGED`, :data:`ARM_B_TRANSACTIONS`,
:data:`ARM_B_FLAGGED`. The shadow, if any, is compared with the answers given.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Final

import numpy as np

from service.api.requests import ParsedRequest
from service.api.scoring import prediction_body, score_parsed
from service.model import LoadedModel
from service.rollout.arms import ARM_A, ARM_B, assign
from service.rollout.models import Rollout
from service.rollout.shadow import observe_shadow
from service.telemetry.request_record import RequestLog, record_decisions

ARM_A_TRANSACTIONS: Final = "ArmATransactions"
ARM_A_FLAGGED: Final = "ArmAFlagged"
ARM_B_TRANSACTIONS: Final = "ArmBTransactions"
ARM_B_FLAGGED: Final = "ArmBFlagged"
#: Extension metric names (service/telemetry/metrics.py) this module emits.
AB_METRICS: Final = (ARM_A_TRANSACTIONS, ARM_A_FLAGGED, ARM_B_TRANSACTIONS, ARM_B_FLAGGED)


def _subset(parsed: ParsedRequest, rows: list[int], model: LoadedModel) -> ParsedRequest:
    """The request's rows ``rows`` with ``model``'s input columns (no copy when all rows)."""
    if len(rows) == parsed.size:
        return dataclasses.replace(
            parsed, columns={name: parsed.columns[name] for name in model.input_names}
        )
    index = np.asarray(rows, dtype=np.intp)
    return dataclasses.replace(
        parsed,
        columns={name: parsed.columns[name][index] for name in model.input_names},
        transaction_ids=[parsed.transaction_ids[i] for i in rows],
    )


def answer_ab(
    rollout: Rollout, primary: LoadedModel, parsed: ParsedRequest, body: bytes, record: RequestLog
) -> dict[str, Any]:
    """Score ``parsed`` by arm, record the telemetry, observe the shadow; return the answer."""
    b_model = rollout.ab_model
    assert b_model is not None  # routes call this only when rollout.splits
    arms = assign(parsed.transaction_ids, record.request_id, rollout.ab_share)
    n = parsed.size
    record.batch_size = n
    started = time.perf_counter_ns()
    probabilities = np.empty(n, dtype=np.float32)
    labels = np.empty(n, dtype=bool)
    entries: list[Any] | None = [None] * n if parsed.options.explain else None
    decided_by: list[LoadedModel] = [primary] * n
    for arm, model in ((ARM_A, primary), (ARM_B, b_model)):
        rows = [i for i, a in enumerate(arms) if a == arm]
        if not rows:
            continue
        p, lab, explained = score_parsed(model, _subset(parsed, rows, model))
        probabilities[rows] = p
        labels[rows] = lab
        for position, i in enumerate(rows):
            decided_by[i] = model
            if entries is not None and explained is not None:
                entries[i] = explained[position]
    record.scoring_us = (time.perf_counter_ns() - started) // 1000

    only = decided_by[0] if all(m is decided_by[0] for m in decided_by) else primary
    batch = record_decisions(
        record,
        model_version=only.version,
        threshold=only.threshold,
        probabilities=probabilities,
        labels=labels,
        columns=parsed.columns,
        transaction_ids=parsed.transaction_ids,
        contributions=entries,
    )
    if batch is not None:  # None: the app records no telemetry
        batch.extra["arm"] = arms
        batch.extra["arm_model_version"] = [m.version for m in decided_by]
    flags = labels.tolist()
    for arm, count_name, flag_name in (
        (ARM_A, ARM_A_TRANSACTIONS, ARM_A_FLAGGED),
        (ARM_B, ARM_B_TRANSACTIONS, ARM_B_FLAGGED),
    ):
        record.add_metric(count_name, arms.count(arm))
        record.add_metric(flag_name, sum(f for a, f in zip(arms, flags, strict=True) if a == arm))
    observe_shadow(rollout, parsed, body, record, probabilities, labels)
    return prediction_body(primary, parsed, probabilities, labels, entries, decided_by)

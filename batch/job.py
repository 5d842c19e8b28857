"""A batch job from start to end: load the model, plan, run an engine, write, summarise.

The engines (:mod:`batch.local`, :mod:`batch.ray_engine`) only turn chunks into
:class:`~batch.scoring.ScoredChunk` objects in input order; writing the output and rejects files
and the summary happens here, the same way for both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from batch.errors import OutputError
from batch.models import ScoringModel, load_scoring_model
from batch.plan import JobSpec, Plan, plan_job
from batch.progress import Progress
from batch.scoring import ScoredChunk
from batch.sinks import TableSink, write_json


def run_job(spec: JobSpec, stream: TextIO | None = None, quiet: bool = False) -> dict[str, Any]:
    """Run the job; returns the summary (also printed and written). Raises BatchError."""
    started = time.perf_counter()
    stream = stream or sys.stderr
    scoring = load_scoring_model(spec)
    plan = plan_job(spec, scoring.model)
    if not quiet:
        print(
            f"[score] {len(plan.inputs)} file(s) -> {plan.output.uri}; model "
            f"{scoring.model.version} ({scoring.model.metadata.feature_set}); engine {spec.engine}"
            f", {spec.workers or 'all cluster CPUs as'} worker(s)",
            file=stream,
            flush=True,
        )
    chunks = _engine_chunks(plan, scoring)
    progress = Progress(stream=stream, quiet=quiet)
    output = TableSink(plan.output, plan.layout.output_schema())
    rejects = TableSink(plan.rejects, plan.layout.rejects_schema())
    try:
        for scored in chunks:
            output.write(scored.scored)
            rejects.write(scored.rejects)
            progress.add(scored.rows, scored.rejected, scored.flagged)
        output.close()
        rejects.close()
    except BaseException:
        output.abort()
        rejects.abort()
        raise
    finally:
        _close(chunks)
    progress.done()
    seconds = time.perf_counter() - started
    summary = {
        "rows": progress.rows,
        "scored": output.rows,
        "rejected": rejects.rows,
        "flagged": progress.flagged,
        "seconds": round(seconds, 3),
        "rows_per_second": round(progress.rows / seconds) if seconds > 0 else None,
        "files": len(plan.inputs),
        "source": spec.source,
        "output": plan.output.uri,
        "rejects": plan.rejects.uri,
        "model_version": scoring.model.version,
        "feature_set": scoring.model.metadata.feature_set,
        "threshold": scoring.model.threshold,
        "engine": spec.engine,
        "workers": spec.workers,
    }
    if output.rows + rejects.rows != progress.rows:  # every row is scored or rejected, once
        raise OutputError(f"row count mismatch: {summary}")
    write_json(plan.summary, summary)
    return summary


def _engine_chunks(plan: Plan, scoring: ScoringModel) -> Iterator[ScoredChunk]:
    if plan.spec.engine == "ray":
        from batch.ray_engine import ray_chunks  # Ray is an optional extra

        return ray_chunks(plan, scoring.fetched)
    from batch.local import local_chunks

    return local_chunks(plan, scoring.model)


def _close(chunks: Iterator[ScoredChunk]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def default_workers() -> int:
    """The cores this process may use (its CPU affinity, e.g. a container's limit)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)

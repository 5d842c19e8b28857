"""The Ray engine: the same job on Ray Data, reading in Ray tasks and scoring in an actor pool.

Stages:

1. ``from_items``: one item per part of the input (a CSV file, or a range of a Parquet file's row
   groups, so one large Parquet file is read by several tasks at once);
2. ``map_batches(read_part)``: Ray tasks stream each part with :func:`batch.reader.read_chunks`
   (local disk or S3 through pyarrow) and emit the raw rows with their file index and row number;
3. ``map_batches(ScoringActor, concurrency=N)``: N actors, each with its own onnxruntime session
   opened from the model's bytes (shipped with the job, so cluster nodes need no access to the
   model's location), run the same :class:`~batch.scoring.ChunkScorer` as the local engine;
4. the driver iterates the results in input order (``preserve_order``) and writes the output,
   rejects and summary exactly as the local engine does, so both engines' files are identical.

Without ``--ray-address`` a local Ray instance with ``workers`` CPUs is started and stopped; with
one (``auto``, ``ray://head:10001``) the job runs on that cluster, whose nodes need fraudlite
installed with the ``ray`` extra.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from batch.errors import BatchError
from batch.plan import Plan
from batch.reader import Chunk, parquet_row_groups, read_chunks
from batch.scoring import ChunkScorer, ScoredChunk
from service.model.store import FetchedModel

#: Extra columns carrying each raw row's origin between the read and score stages.
FILE_COLUMN: Final = "__fraud_score_file"
ROW_COLUMN: Final = "__fraud_score_row"
#: Row groups per read part of a Parquet file.
ROW_GROUPS_PER_PART: Final = 1
#: CPUs reserved per read task: reading is mostly I/O and pyarrow's own threads, and N scoring
#: actors of one CPU each must still leave room for it on an N-CPU instance.
READ_CPUS: Final = 0.25
SCORE_CPUS: Final = 0.75
#: Ray Data block size target, about one chunk of raw rows.
TARGET_BLOCK_BYTES: Final = 8 * 1024 * 1024


def read_parts(plan: Plan) -> list[dict[str, Any]]:
    """The read parts of a job: CSV files whole, Parquet files by row-group ranges."""
    parts: list[dict[str, Any]] = []
    for index, location in enumerate(plan.inputs):
        if location.format == "parquet":
            groups = len(parquet_row_groups(location))
            for start in range(0, max(groups, 1), ROW_GROUPS_PER_PART):
                parts.append({"file": index, "start": start, "stop": start + ROW_GROUPS_PER_PART})
        else:
            parts.append({"file": index, "start": -1, "stop": -1})
    return parts


def read_part(items: pa.Table, plan: Plan) -> Iterator[pa.Table]:
    """Ray task: stream the parts in ``items`` as raw chunks tagged with file and row numbers."""
    for part in items.to_pylist():
        location = plan.inputs[part["file"]]
        row_groups = None if part["start"] < 0 else (part["start"], part["stop"])
        for chunk in read_chunks(location, plan.columns, part["file"], row_groups):
            table = chunk.table.append_column(
                FILE_COLUMN, pa.array(np.full(chunk.num_rows, part["file"], dtype=np.int32))
            )
            yield table.append_column(ROW_COLUMN, pa.array(chunk.row_numbers()))


class ScoringActor:
    """Ray actor: one onnxruntime session, scoring the raw chunks it is given."""

    def __init__(self, plan: Plan, model_bytes: bytes, source: str, sha256: str) -> None:
        from batch.models import open_fetched

        model = open_fetched(FetchedModel(model_bytes, source, sha256))
        self.scorer = ChunkScorer(model, plan.layout, plan.input_uris)

    def __call__(self, table: pa.Table) -> pa.Table:
        results = [self.scorer(chunk) for chunk in split_runs(table)]
        return pa.table(
            {
                "scored": pa.array([_ipc(r.scored) for r in results], pa.large_binary()),
                "rejects": pa.array([_ipc(r.rejects) for r in results], pa.large_binary()),
                "rows": pa.array([r.rows for r in results], pa.int64()),
                "flagged": pa.array([r.flagged for r in results], pa.int64()),
                "file_index": pa.array([r.file_index for r in results], pa.int64()),
                "first_row": pa.array([r.first_row for r in results], pa.int64()),
            }
        )


def split_runs(table: pa.Table) -> list[Chunk]:
    """Tagged rows back into chunks of consecutive rows of one file (Ray may merge blocks)."""
    files = table.column(FILE_COLUMN).to_numpy()
    rows = table.column(ROW_COLUMN).to_numpy()
    data = table.drop_columns([FILE_COLUMN, ROW_COLUMN])
    if not len(rows):
        return []
    breaks = np.flatnonzero((np.diff(files) != 0) | (np.diff(rows) != 1)) + 1
    bounds = [0, *breaks.tolist(), len(rows)]
    return [
        Chunk(data.slice(start, stop - start), int(rows[start]), int(files[start]))
        for start, stop in itertools.pairwise(bounds)
    ]


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(data: bytes) -> pa.Table:
    return ipc.open_stream(data).read_all()


def ray_chunks(plan: Plan, fetched: FetchedModel) -> Iterator[ScoredChunk]:
    """Scored chunks in input order, computed on Ray (started here unless given an address)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise BatchError(
            "--engine ray needs Ray: pip install 'fraudlite[ray]' (ray[data] and optuna)"
        ) from None
    started_here = False
    if not ray.is_initialized():
        if plan.spec.ray_address:
            ray.init(address=plan.spec.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=plan.spec.workers or 1, include_dashboard=False, log_to_driver=False)
            started_here = True
    # One actor per CPU unless told otherwise (a cluster's CPUs when --workers is not given).
    workers = plan.spec.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # identical files to the local engine
        context.enable_progress_bars = False  # fraud-score prints its own progress
        # Blocks of about one chunk: Ray would otherwise merge a part's chunks into one 128 MiB
        # block, leaving all but one scoring actor idle and memory unbounded by the chunk size.
        context.target_max_block_size = TARGET_BLOCK_BYTES
        parts = read_parts(plan)
        dataset = (
            ray.data.from_items(parts, override_num_blocks=max(1, len(parts)))
            .map_batches(
                read_part,
                batch_size=1,
                batch_format="pyarrow",
                fn_kwargs={"plan": plan},
                num_cpus=READ_CPUS,
            )
            .map_batches(
                ScoringActor,
                batch_size=None,
                batch_format="pyarrow",
                fn_constructor_args=(plan, fetched.data, fetched.source, fetched.sha256),
                concurrency=workers,
                num_cpus=SCORE_CPUS,
            )
        )
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in batch.to_pylist():
                    yield ScoredChunk(
                        scored=_from_ipc(row["scored"]),
                        rejects=_from_ipc(row["rejects"]),
                        rows=row["rows"],
                        flagged=row["flagged"],
                        file_index=row["file_index"],
                        first_row=row["first_row"],
                    )
        except ray.exceptions.RayError as exc:
            cause = _batch_cause(exc)
            if cause is not None:  # a data problem found in a task: the same message as local
                raise cause from None
            raise
    finally:
        if started_here:
            ray.shutdown()


def _batch_cause(exc: BaseException) -> BatchError | None:
    """The BatchError a Ray task raised, from the chain of errors Ray wraps it in."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BatchError):
            return current
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
    return None

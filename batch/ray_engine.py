"""The Ray engine: the same job on Ray Data, each actor reading and scoring its own parts.

Stages:

1. ``from_items``: one item per part of the input (:func:`batch.reader.file_parts`): an
   uncompressed CSV file in byte ranges of 16 MiB cut at line starts, a Parquet file by runs of
   batches of a row group, a gzip CSV whole; so one large file is read by every actor at once;
2. ``map_batches(ScoringActor, concurrency=N)``: N actors, each with its own onnxruntime session
   opened from the model's bytes (shipped with the job, so cluster nodes need no access to the
   model's location), read a part where they run (local disk or S3 through pyarrow) with
   :func:`batch.reader.read_part` and score it chunk by chunk with the same
   :class:`~batch.scoring.ChunkScorer` as the local engine. Only the scored rows (4 columns plus
   ``--keep``) travel back through the object store, never the raw ones;
3. the driver iterates the results in input order (``preserve_order``), numbers each part's rows
   after the rows of the file's earlier parts, and writes the output, rejects and summary exactly
   as the local engine does, so both engines' files are identical.

Without ``--ray-address`` a local Ray instance with ``workers`` CPUs is started and stopped; with
one (``auto``, ``ray://head:10001``) the job runs on that cluster, whose nodes need fraudlite
installed with the ``ray`` extra.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from batch.errors import BatchError
from batch.plan import Plan
from batch.reader import Part, file_parts, read_part
from batch.scoring import ROW, ChunkScorer, ScoredChunk
from service.model.store import FetchedModel

#: CPUs per scoring actor: one, as a local worker thread uses (onnxruntime runs one thread).
SCORE_CPUS: Final = 1
#: Ray Data block size target: about one chunk's results, so they stream back as they are made.
TARGET_BLOCK_BYTES: Final = 8 * 1024 * 1024


def read_parts(plan: Plan) -> list[dict[str, Any]]:
    """The parts of a job, in input order, as the items of a Ray dataset."""
    parts = [part for index, where in enumerate(plan.inputs) for part in file_parts(where, index)]
    return [{"part": number, **asdict(part)} for number, part in enumerate(parts)]


class ScoringActor:
    """Ray actor: one onnxruntime session; reads the parts it is given and scores them."""

    def __init__(self, plan: Plan, model_bytes: bytes, source: str, sha256: str) -> None:
        from batch.models import open_fetched

        model = open_fetched(FetchedModel(model_bytes, source, sha256))
        self.plan = plan
        self.scorer = ChunkScorer(model, plan.layout, plan.input_uris)

    def __call__(self, items: pa.Table) -> Iterator[pa.Table]:
        # One table per chunk: results stream back while the rest of the part is read.
        for item in items.to_pylist():
            number = item.pop("part")
            part = Part(**item)
            location = self.plan.inputs[part.file_index]
            for chunk in read_part(location, self.plan.columns, part):
                result = self.scorer(chunk)
                yield pa.table(
                    {
                        "part": pa.array([number], pa.int64()),
                        "scored": pa.array([_ipc(result.scored)], pa.large_binary()),
                        "rejects": pa.array([_ipc(result.rejects)], pa.large_binary()),
                        "rows": pa.array([result.rows], pa.int64()),
                        "flagged": pa.array([result.flagged], pa.int64()),
                        "file_index": pa.array([result.file_index], pa.int64()),
                        "first_row": pa.array([result.first_row], pa.int64()),
                    }
                )


class RowNumbers:
    """Numbers each part's rows after the rows of its file's earlier parts (read elsewhere, a
    part numbers its rows from 0); parts arrive in input order, each part's chunks in order."""

    def __init__(self, layout_has_row: bool) -> None:
        self.layout_has_row = layout_has_row
        self._rows: dict[int, int] = {}  # rows of each file seen so far
        self._part = -1
        self._offset = 0

    def place(self, part: int, scored: ScoredChunk) -> ScoredChunk:
        if part != self._part:
            self._part = part
            self._offset = self._rows.get(scored.file_index, 0)
        self._rows[scored.file_index] = self._rows.get(scored.file_index, 0) + scored.rows
        if not self._offset:
            return scored
        output = scored.scored
        if self.layout_has_row:
            output = _shift(output, self._offset)
        return replace(
            scored,
            scored=output,
            rejects=_shift(scored.rejects, self._offset),
            first_row=scored.first_row + self._offset,
        )


def _shift(table: pa.Table, offset: int) -> pa.Table:
    index = table.schema.get_field_index(ROW)
    return table.set_column(index, ROW, pc.add(table.column(index), pa.scalar(offset, pa.int64())))


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
        context.target_max_block_size = TARGET_BLOCK_BYTES
        parts = read_parts(plan)
        dataset = ray.data.from_items(parts, override_num_blocks=max(1, len(parts))).map_batches(
            ScoringActor,
            batch_size=1,  # one part per call: actors take the next part as they finish one
            batch_format="pyarrow",
            fn_constructor_args=(plan, fetched.data, fetched.source, fetched.sha256),
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=SCORE_CPUS,
        )
        numbers = RowNumbers(layout_has_row=not plan.layout.use_transaction_id)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in batch.to_pylist():
                    yield numbers.place(
                        row["part"],
                        ScoredChunk(
                            scored=_from_ipc(row["scored"]),
                            rejects=_from_ipc(row["rejects"]),
                            rows=row["rows"],
                            flagged=row["flagged"],
                            file_index=row["file_index"],
                            first_row=row["first_row"],
                        ),
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

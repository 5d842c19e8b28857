"""The local engine: read chunks in order, score them on N threads, hand them back in order.

Threads rather than processes: reading (pyarrow's CSV and Parquet readers), the vectorised checks
and ``session.run`` all release the GIL, so N threads keep N cores busy without copying chunks
between processes. At most ``2 * workers`` chunks are in flight, which bounds memory whatever the
input size. onnxruntime sessions may be run from several threads at once; each run uses one
intra-op thread (the service's setting), so N workers use N cores.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from batch.plan import Plan
from batch.reader import Chunk, read_chunks
from batch.scoring import ChunkScorer, ScoredChunk
from service.model import LoadedModel


def plan_chunks(plan: Plan) -> Iterator[Chunk]:
    """Every chunk of every input file, in file order then row order."""
    for index, location in enumerate(plan.inputs):
        yield from read_chunks(location, plan.columns, file_index=index)


def local_chunks(plan: Plan, model: LoadedModel) -> Iterator[ScoredChunk]:
    """Scored chunks in input order, computed on ``plan.spec.workers`` threads."""
    workers = max(1, plan.spec.workers or 1)
    # pyarrow's own pool (CSV parsing, compute kernels) gets the same number of cores.
    pa.set_cpu_count(workers)
    scorer = ChunkScorer(model, plan.layout, plan.input_uris)
    if workers == 1:
        for chunk in plan_chunks(plan):
            yield scorer(chunk)
        return
    pending: deque[Future[ScoredChunk]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fraud-score") as pool:
        try:
            for chunk in plan_chunks(plan):
                pending.append(pool.submit(scorer, chunk))
                while len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

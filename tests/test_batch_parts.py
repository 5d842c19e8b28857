"""A file read in parts (what the Ray engine's actors do) gives exactly what reading it whole gives:
the same scored rows and rejects, once each, numbered as in the file, whatever the part size; CSV
ranges cut at line starts (CRLF, blank lines, text in a numeric column), Parquet row groups cut
into runs of rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_files import BROKEN, dirty_rows, text_frame, write_csv
from bench_artifacts import trained_artifacts

import batch.reader as reader
from batch.models import load_scoring_model
from batch.plan import JobSpec
from batch.ray_engine import RowNumbers
from batch.reader import Columns, file_parts, read_chunks, read_part
from batch.scoring import ChunkScorer, Layout, ScoredChunk
from batch.sources import Storage

NUMERIC = ("step", "amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")
COLUMNS = Columns(inputs=("type", *NUMERIC), numeric=NUMERIC, optional=("transaction_id",))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    model = trained_artifacts(tmp_path_factory) / "model.onnx"
    return load_scoring_model(JobSpec(source="", model=str(model), output="")).model


def whole_and_parts(loaded: Any, path: Path, with_ids: bool) -> tuple[ScoredChunk, ScoredChunk]:
    """The file scored whole (the local engine) and in parts renumbered as the Ray driver does."""
    location = Storage(None).locate(str(path))
    layout = Layout(use_transaction_id=with_ids, multi_file=False, keep=(), keep_types=())
    scorer = ChunkScorer(loaded, layout, [str(path)])
    whole = [scorer(chunk) for chunk in read_chunks(location, COLUMNS)]
    numbers = RowNumbers(layout_has_row=not with_ids)
    parts = [
        numbers.place(number, scorer(chunk))
        for number, part in enumerate(file_parts(location, 0))
        for chunk in read_part(location, COLUMNS, part)
    ]
    return _joined(whole), _joined(parts)


def _joined(results: list[ScoredChunk]) -> ScoredChunk:
    return ScoredChunk(
        scored=pa.concat_tables([r.scored for r in results]),
        rejects=pa.concat_tables([r.rejects for r in results]),
        rows=sum(r.rows for r in results),
        flagged=sum(r.flagged for r in results),
        file_index=0,
        first_row=0,
    )


@pytest.mark.parametrize("part_bytes", [200, 4096, 1 << 30])
def test_csv_ranges_score_as_the_whole_file(
    loaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_bytes: int
) -> None:
    path = write_csv(dirty_rows(1500, seed=5, with_ids=False), tmp_path / "dirty.csv")
    monkeypatch.setattr(reader, "CSV_PART_BYTES", part_bytes)
    parts = file_parts(Storage(None).locate(str(path)), 0)
    assert len(parts) == -(-path.stat().st_size // part_bytes)
    whole, pieces = whole_and_parts(loaded, path, with_ids=False)
    assert pieces.rows == whole.rows == 1500
    assert pieces.scored.equals(whole.scored)  # row numbers included
    assert pieces.rejects.equals(whole.rejects)
    assert pieces.rejects.column("row").to_pylist() == [b[0] for b in BROKEN]


def test_csv_ranges_with_crlf_and_blank_lines(
    loaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = write_csv(text_frame(400, seed=6), tmp_path / "plain.csv")
    lines = plain.read_text().splitlines()
    # Windows line ends, and blank lines (which pyarrow skips: they are not rows) here and there.
    text = "\r\n".join(line if i % 37 else f"{line}\r\n" for i, line in enumerate(lines)) + "\r\n"
    path = tmp_path / "crlf.csv"
    path.write_text(text, newline="")
    monkeypatch.setattr(reader, "CSV_PART_BYTES", 333)
    whole, pieces = whole_and_parts(loaded, path, with_ids=True)
    assert pieces.rows == whole.rows == 400
    assert pieces.scored.equals(whole.scored)


def test_gzip_csv_is_one_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(write_csv(text_frame(50), tmp_path / "a.csv").read_bytes()))
    monkeypatch.setattr(reader, "CSV_PART_BYTES", 100)
    assert len(file_parts(Storage(None).locate(str(path)), 0)) == 1


@pytest.mark.parametrize("batch_rows", [64, 100, 10_000])
def test_parquet_runs_of_rows_score_as_the_whole_file(
    loaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    path = tmp_path / "t.parquet"
    # Text columns, bad cells included: an export that stored everything as strings.
    pq.write_table(dirty_rows(2500, seed=7, with_ids=False), path, row_group_size=700)
    # Parts of PARQUET_BATCH_ROWS * PARQUET_PART_BATCHES rows, not aligned with the row groups.
    monkeypatch.setattr(reader, "PARQUET_BATCH_ROWS", batch_rows)
    monkeypatch.setattr(reader, "PARQUET_PART_BATCHES", 3)
    parts = file_parts(Storage(None).locate(str(path)), 0)
    assert sum(p.stop - p.start for p in parts) == 2500
    whole, pieces = whole_and_parts(loaded, path, with_ids=False)
    assert pieces.rows == whole.rows == 2500
    assert pieces.scored.equals(whole.scored)
    assert pieces.rejects.equals(whole.rejects)
    assert pieces.rejects.column("row").to_pylist() == [b[0] for b in BROKEN]

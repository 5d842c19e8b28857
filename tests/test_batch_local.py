"""fraud-score with the local engine: answers equal /predict's, rejects carry the API's reasons,
chunking, empty and broken inputs, formats, several files, --keep, the preauth model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from batch_files import (
    BROKEN,
    REAL_SAMPLE,
    api_answers,
    dirty_rows,
    text_frame,
    typed,
    write_csv,
    write_parquet,
)
from bench_artifacts import trained_artifacts
from service_model import build_model

from batch import reader
from batch.cli import main
from batch.errors import BatchError
from batch.models import load_scoring_model
from batch.plan import JobSpec
from service import schema

MONEY = ("amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")
NUMERIC = ("step", *MONEY)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model: XGBoost fitted on generated data, exported by convert/."""
    return trained_artifacts(tmp_path_factory) / "model.onnx"


@pytest.fixture(scope="module")
def loaded(model_path: Path) -> Any:
    return load_scoring_model(JobSpec(source="", model=str(model_path), output="")).model


def score(*args: str) -> int:
    return main([*args, "--quiet"])


def read(path: Path) -> list[dict[str, Any]]:
    if path.name.endswith((".csv", ".csv.gz")):
        return pacsv.read_csv(path).to_pylist()
    return pq.read_table(path).to_pylist()


def test_answers_and_rejects_equal_the_apis(
    model_path: Path, loaded: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = dirty_rows(300, seed=1)
    source = write_csv(rows, tmp_path / "in.csv")
    out = tmp_path / "out" / "scores.parquet"
    assert score(str(source), "--model", str(model_path), "-o", str(out), "--workers", "2") == 0

    scored, rejects = read(out), read(tmp_path / "out" / "scores.rejects.parquet")
    answers = api_answers(model_path, loaded, rows.to_pylist())
    by_id = {a["transaction_id"]: a for a in answers if "transaction_id" in a}
    assert len(scored) == 300 - len(BROKEN) and len(rejects) == len(BROKEN)
    for got in scored:
        want = by_id[got["transaction_id"]]
        assert got["probability_fraud"] == want["probability_fraud"]  # exactly, not approximately
        assert got["is_fraud"] == want["is_fraud"]
        assert got["model_version"] == loaded.version
    assert [r["transaction_id"] for r in scored] == [
        r["transaction_id"]
        for i, r in enumerate(rows.to_pylist())
        if i not in {b[0] for b in BROKEN}
    ]
    # Every reason is the API's, word for word, and the ones we know by heart are what we expect.
    api_reasons = [a["reason"] for a in answers if "reason" in a]
    assert [r["reason"] for r in rejects] == api_reasons
    assert [(r["row"], r["reason"]) for r in rejects] == [(b[0], b[3]) for b in BROKEN]
    assert [r["field"] for r in rejects] == [b[1] for b in BROKEN]
    assert rejects[0]["transaction_id"] == "tx-1-3"

    summary = json.loads((tmp_path / "out" / "scores.summary.json").read_text())
    assert summary["rows"] == 300 and summary["rejected"] == len(BROKEN)
    assert summary["scored"] == 300 - len(BROKEN)
    assert summary["flagged"] == sum(r["is_fraud"] for r in scored)
    printed = capsys.readouterr().out
    assert f"{len(BROKEN)} rejected" in printed and json.loads(printed.splitlines()[-1]) == summary


def test_a_file_of_many_chunks_scores_as_one_chunk(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = dirty_rows(3000, seed=2, with_ids=False)
    source = write_csv(rows, tmp_path / "in.csv")
    whole = tmp_path / "whole.parquet"
    assert score(str(source), "--model", str(model_path), "-o", str(whole)) == 0
    monkeypatch.setattr(reader, "CSV_BLOCK_BYTES", 4096)  # about 40 rows per block
    monkeypatch.setattr(reader, "CHUNK_ROWS", 100)  # joined into chunks of 100 rows or more
    chunked = tmp_path / "chunked.parquet"
    assert score(str(source), "--model", str(model_path), "-o", str(chunked), "--workers", "2") == 0
    assert pq.read_table(chunked).equals(pq.read_table(whole))
    assert pq.read_table(tmp_path / "chunked.rejects.parquet").equals(
        pq.read_table(tmp_path / "whole.rejects.parquet")
    )
    got = pq.read_table(chunked).column("row").to_pylist()
    assert got == [i for i in range(3000) if i not in {b[0] for b in BROKEN}]


def test_text_after_clean_chunks_is_rejected_with_the_right_row(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast float64 parse fails only at row 2500, after many chunks were delivered: the rest
    # of the file is read again as text, from the first row not yet delivered.
    monkeypatch.setattr(reader, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reader, "CHUNK_ROWS", 100)
    table = text_frame(3000, seed=3, with_ids=False)
    amounts = table.column("amount").to_pylist()
    amounts[2500] = "12,50"
    table = table.set_column(table.column_names.index("amount"), "amount", pa.array(amounts))
    source = tmp_path / "in.csv"
    pacsv.write_csv(table, source)  # quotes "12,50", as a real export would
    out = tmp_path / "s.parquet"
    assert score(str(source), "--model", str(model_path), "-o", str(out), "--workers", "2") == 0
    rejects = read(tmp_path / "s.rejects.parquet")
    assert rejects == [
        {"row": 2500, "field": "amount", "reason": "amount: expected a number, got a string"}
    ]
    assert pq.read_table(out).column("row").to_pylist() == [i for i in range(3000) if i != 2500]


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "parquet"])
def test_formats_give_identical_scores(model_path: Path, tmp_path: Path, kind: str) -> None:
    rows = dirty_rows(400, seed=4)
    reference = tmp_path / "ref.parquet"
    assert (
        score(
            str(write_csv(rows, tmp_path / "in.csv")),
            "--model",
            str(model_path),
            "-o",
            str(reference),
        )
        == 0
    )
    if kind == "parquet":
        # A Parquet export stores numbers as numbers: the non-numeric text cannot be there.
        clean = rows.filter(pa.array([i != 60 for i in range(rows.num_rows)]))
        source = write_parquet(typed(clean, NUMERIC), tmp_path / "in.parquet")
    elif kind == "csv.gz":
        import gzip

        source = tmp_path / "in.csv.gz"
        source.write_bytes(gzip.compress((tmp_path / "in.csv").read_bytes()))
    else:
        source = tmp_path / "in.csv"
    out = tmp_path / "out.csv"
    assert score(str(source), "--model", str(model_path), "-o", str(out)) == 0
    want = [r for r in read(reference)]
    got = read(out)
    assert [(r["transaction_id"], r["probability_fraud"], r["is_fraud"]) for r in got] == [
        (r["transaction_id"], r["probability_fraud"], r["is_fraud"]) for r in want
    ]
    rejects = read(tmp_path / "out.rejects.csv")
    expected = [b for b in BROKEN if not (kind == "parquet" and b[0] == 60)]
    assert [r["reason"] for r in rejects] == [b[3] for b in expected]


def test_empty_file_gives_empty_outputs(model_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "empty.csv"
    source.write_text(",".join(schema.PAYSIM_COLUMNS) + "\n")
    out = tmp_path / "s.parquet"
    assert score(str(source), "--model", str(model_path), "-o", str(out)) == 0
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.column_names == ["row", "probability_fraud", "is_fraud", "model_version"]
    summary = json.loads((tmp_path / "s.summary.json").read_text())
    assert (summary["rows"], summary["scored"], summary["rejected"]) == (0, 0, 0)
    empty_parquet = write_parquet(typed(text_frame(1).slice(0, 0), NUMERIC), tmp_path / "e.parquet")
    assert score(str(empty_parquet), "--model", str(model_path), "-o", str(tmp_path / "e.csv")) == 0
    assert (tmp_path / "e.csv").read_text().splitlines() == [
        '"transaction_id","probability_fraud","is_fraud","model_version"'
    ]


def test_zero_byte_file_and_missing_column_fail_at_once(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "zero.csv").write_bytes(b"")
    out = tmp_path / "s.parquet"
    assert score(str(tmp_path / "zero.csv"), "--model", str(model_path), "-o", str(out)) == 2
    assert "zero.csv: empty file" in capsys.readouterr().err
    table = text_frame(50).drop_columns(["oldbalanceDest", "type"])
    source = write_csv(table, tmp_path / "partial.csv")
    assert score(str(source), "--model", str(model_path), "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert "partial.csv: missing column(s) type, oldbalanceDest needed by the model" in err
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    assert score(str(source), "--model", str(model_path), "-o", str(out), "--keep", "nope") == 2


def test_directory_glob_and_keep(model_path: Path, tmp_path: Path) -> None:
    first = write_csv(dirty_rows(120, seed=5, with_ids=False), tmp_path / "in" / "a.csv")
    second = write_parquet(
        typed(text_frame(80, seed=6, with_ids=False), NUMERIC), tmp_path / "in" / "b.parquet"
    )
    (tmp_path / "in" / "notes.txt").write_text("not data")
    out = tmp_path / "s.parquet"
    args = ["--model", str(model_path), "-o", str(out), "--keep", "nameOrig,isFraud"]
    assert score(str(tmp_path / "in"), *args) == 0
    table = pq.read_table(out)
    assert table.column_names == [
        "file",
        "row",
        "probability_fraud",
        "is_fraud",
        "model_version",
        "nameOrig",
        "isFraud",
    ]
    files = table.column("file").to_pylist()
    assert files.count(str(first)) == 120 - len(BROKEN) and files.count(str(second)) == 80
    assert table.column("nameOrig").to_pylist()[0] == text_frame(120, 5)["nameOrig"][0].as_py()
    rejects = pq.read_table(tmp_path / "s.rejects.parquet")
    assert set(rejects.column("file").to_pylist()) == {str(first)}
    assert score(str(tmp_path / "in" / "*.parquet"), *args) == 0
    assert pq.read_table(out).num_rows == 80


def test_preauth_model_needs_only_its_inputs(tmp_path: Path) -> None:
    preauth = build_model(
        tmp_path / "preauth.onnx", inputs=schema.PREAUTH_INPUTS, feature_set="preauth"
    )
    table = text_frame(100, seed=7).drop_columns(list(schema.POST_TRANSACTION_FIELDS))
    source = write_csv(table, tmp_path / "in.csv")
    out = tmp_path / "s.parquet"
    assert score(str(source), "--model", str(preauth), "-o", str(out)) == 0
    loaded = load_scoring_model(JobSpec(source="", model=str(preauth), output="")).model
    answers = api_answers(preauth, loaded, table.to_pylist())
    got = pq.read_table(out).to_pylist()
    assert [g["probability_fraud"] for g in got] == [a["probability_fraud"] for a in answers]


def test_a_string_input_other_than_type_is_checked(tmp_path: Path) -> None:
    # Models may take an account name as input; the API's rules for names apply (1-256 chars).
    inputs = ("type", "step", "amount", "oldbalanceOrg", "oldbalanceDest", "nameDest")
    model = build_model(tmp_path / "named.onnx", inputs=inputs)
    table = text_frame(20, seed=8)
    names = table.column("nameDest").to_pylist()
    names[4], names[5] = "", "x" * 300
    table = table.set_column(table.column_names.index("nameDest"), "nameDest", pa.array(names))
    out = tmp_path / "s.parquet"
    assert (
        score(str(write_csv(table, tmp_path / "in.csv")), "--model", str(model), "-o", str(out))
        == 0
    )
    rejects = read(tmp_path / "s.rejects.parquet")
    loaded = load_scoring_model(JobSpec(source="", model=str(model), output="")).model
    answers = api_answers(model, loaded, table.to_pylist())
    assert [r["reason"] for r in rejects] == [a["reason"] for a in answers if "reason" in a]
    assert [r["row"] for r in rejects] == [4, 5]


def test_unusable_model_and_source_are_usage_errors(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_csv(text_frame(10), tmp_path / "in.csv")
    assert score(str(source), "--model", str(tmp_path / "nope.onnx"), "-o", "x.parquet") == 2
    assert "model not loaded" in capsys.readouterr().err
    assert score(str(tmp_path / "nothing-*.csv"), "--model", str(model_path), "-o", "x") == 2
    assert "no input files found" in capsys.readouterr().err
    with pytest.raises(BatchError, match="already an output column"):
        from batch.job import run_job

        run_job(
            JobSpec(str(source), str(model_path), str(tmp_path / "o.parquet"), keep=("is_fraud",)),
            quiet=True,
        )


def test_rejects_and_summary_paths_can_be_chosen(model_path: Path, tmp_path: Path) -> None:
    source = write_csv(dirty_rows(100, seed=9), tmp_path / "in.csv")
    out = tmp_path / "s.csv.gz"
    rejects, summary = tmp_path / "r" / "bad.csv", tmp_path / "r" / "sum.json"
    assert (
        score(
            str(source),
            "--model",
            str(model_path),
            "-o",
            str(out),
            "--rejects",
            str(rejects),
            "--summary",
            str(summary),
        )
        == 0
    )
    assert len(read(out)) == 100 - len(BROKEN)
    assert len(read(rejects)) == len(BROKEN)
    assert json.loads(summary.read_text())["rejected"] == len(BROKEN)


@pytest.mark.real_data
@pytest.mark.skipif(not REAL_SAMPLE.exists(), reason=f"{REAL_SAMPLE} is absent (see its README)")
def test_real_sample_scores_as_the_api(model_path: Path, loaded: Any, tmp_path: Path) -> None:
    out = tmp_path / "real.parquet"
    assert (
        score(str(REAL_SAMPLE), "--model", str(model_path), "-o", str(out), "--keep", "isFraud")
        == 0
    )
    got = pq.read_table(out)
    assert (
        got.num_rows == 132_707 and pq.read_table(tmp_path / "real.rejects.parquet").num_rows == 0
    )
    assert got.column("row").to_pylist() == list(range(132_707))
    # Every 10th real row through POST /predict: the same probabilities and decisions.
    rows = (
        pacsv.read_csv(
            REAL_SAMPLE, convert_options=pacsv.ConvertOptions(column_types={"type": pa.string()})
        )
        .take(pa.array(range(0, 132_707, 10)))
        .to_pylist()
    )
    answers = api_answers(model_path, loaded, rows)
    picked = got.take(pa.array(range(0, 132_707, 10)))
    assert picked.column("probability_fraud").to_pylist() == [
        a["probability_fraud"] for a in answers
    ]
    assert picked.column("is_fraud").to_pylist() == [a["is_fraud"] for a in answers]
    assert picked.column("isFraud").to_pylist() == [str(r["isFraud"]) for r in rows]

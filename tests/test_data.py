"""Loading PaySim data: good files in every format, each kind of malformed file, the CLI."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.schema import PAYSIM_COLUMNS, TRANSACTION_TYPES
from train.data import DataError, LoadedData, load_transactions, parse_row_count
from train.data_cli import main as data_main
from train.data_cli import write_transactions
from train.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = ROOT.parent / "shared/data/paysim_real_sample.csv.gz"

HEADER = ",".join(PAYSIM_COLUMNS)
GOOD_ROWS = [
    "1,PAYMENT,9839.64,C1231006815,170136.00,160296.36,M1979787155,0.00,0.00,0,0",
    "1,TRANSFER,181.00,C1305486145,181.00,0.00,C553264065,0.00,0.00,1,0",
    "1,CASH_OUT,181.00,C840083671,181.00,0.00,C38997010,21182.00,0.00,1,0",
    "2,CASH_IN,5000.5,C1,0,5000.5,C2,100.25,0,0,0",
    "3,DEBIT,1e3,C3,2000,1000,C4,0,1000,0,0",
]
CANONICAL_DTYPES = {
    "step": np.dtype(np.int32),
    "amount": np.dtype(np.float32),
    "oldbalanceOrg": np.dtype(np.float32),
    "newbalanceOrig": np.dtype(np.float32),
    "oldbalanceDest": np.dtype(np.float32),
    "newbalanceDest": np.dtype(np.float32),
    "isFraud": np.dtype(np.int8),
    "isFlaggedFraud": np.dtype(np.int8),
}


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def with_field(row: int, column: str, value: str) -> list[str]:
    """GOOD_ROWS with one field replaced."""
    rows = [r.split(",") for r in GOOD_ROWS]
    rows[row][PAYSIM_COLUMNS.index(column)] = value
    return [",".join(r) for r in rows]


def without(*columns: str) -> list[str]:
    """GOOD_ROWS without some columns."""
    keep = [i for i, name in enumerate(PAYSIM_COLUMNS) if name not in columns]
    return [",".join(r.split(",")[i] for i in keep) for r in GOOD_ROWS]


def assert_canonical(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == PAYSIM_COLUMNS
    for name, dtype in CANONICAL_DTYPES.items():
        assert frame[name].dtype == dtype, name
    assert isinstance(frame["type"].dtype, pd.CategoricalDtype)
    assert tuple(frame["type"].cat.categories) == TRANSACTION_TYPES
    for name in ("nameOrig", "nameDest"):
        assert pd.api.types.is_string_dtype(frame[name].dtype), name


def test_hand_written_csv_loads_with_canonical_dtypes_and_values(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "small.csv", GOOD_ROWS)
    loaded = load_transactions(str(path))
    frame = loaded.frame
    assert_canonical(frame)
    assert len(frame) == 5
    assert frame["type"].tolist() == ["PAYMENT", "TRANSFER", "CASH_OUT", "CASH_IN", "DEBIT"]
    assert frame["amount"].tolist() == pytest.approx([9839.64, 181.0, 181.0, 5000.5, 1000.0])
    assert frame["nameDest"].iloc[0] == "M1979787155"
    assert frame["isFraud"].tolist() == [0, 1, 1, 0, 0]
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.source == str(path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.source = "other"  # type: ignore[misc]


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_written_files_load_back_identical(tmp_path: Path, suffix: str) -> None:
    frame = generate(3000, seed=11)
    path = tmp_path / f"data{suffix}"
    write_transactions(frame, path)
    loaded = load_transactions(str(path))
    assert_canonical(loaded.frame)
    pd.testing.assert_frame_equal(loaded.frame, frame)


def test_csv_output_has_the_kaggle_layout(tmp_path: Path) -> None:
    path = tmp_path / "out.csv.gz"
    write_transactions(generate(500, seed=2), path)
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 501
    money = re.compile(r"^\d+\.\d\d$")
    for line in lines[1:]:
        fields = line.split(",")
        assert len(fields) == 11 and '"' not in line
        assert all(
            money.match(fields[PAYSIM_COLUMNS.index(c)]) for c in ("amount", "oldbalanceOrg")
        )


def test_extra_columns_and_other_column_order_are_accepted(tmp_path: Path) -> None:
    frame = generate(300, seed=4)
    shuffled = frame[list(reversed(PAYSIM_COLUMNS))].assign(note="x")
    path = tmp_path / "shuffled.parquet"
    pq.write_table(pa.Table.from_pandas(shuffled, preserve_index=False), path)
    pd.testing.assert_frame_equal(load_transactions(str(path)).frame, frame)


def test_type_categories_in_another_order_per_chunk(tmp_path: Path) -> None:
    frame = generate(4000, seed=2)
    odd = frame["type"].cat.reorder_categories(list(reversed(TRANSACTION_TYPES)))
    first = pa.Table.from_pandas(frame.iloc[:2000].assign(type=odd[:2000]), preserve_index=False)
    second = pa.Table.from_pandas(frame.iloc[2000:], preserve_index=False)
    table = pa.concat_tables([first, second])
    assert table.column("type").num_chunks == 2
    path = tmp_path / "chunks.parquet"
    pq.write_table(table, path, row_group_size=1000)
    pd.testing.assert_frame_equal(load_transactions(str(path)).frame, frame)


def test_parquet_with_text_and_float64_columns_is_converted(tmp_path: Path) -> None:
    frame = pd.read_csv(write_csv(tmp_path / "in.csv", GOOD_ROWS), dtype=str)
    frame["step"] = frame["step"].astype(float)  # integral floats are fine
    path = tmp_path / "text.parquet"
    frame.to_parquet(path)
    loaded = load_transactions(str(path)).frame
    assert_canonical(loaded)
    assert loaded["step"].tolist() == [1, 1, 1, 2, 3]


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        (
            without("amount", "nameDest"),
            HEADER.replace(",amount", "").replace(",nameDest", ""),
            "missing column(s) amount, nameDest",
        ),
        (GOOD_ROWS, HEADER.replace("isFraud", "is_fraud"), "missing column(s) isFraud;"),
        (with_field(3, "amount", "12,5"), HEADER, "not a readable CSV"),
        (with_field(1, "amount", "abc"), HEADER, "'amount' has non-numeric value 'abc' at row 2"),
        (with_field(2, "oldbalanceDest", "$12"), HEADER, "'oldbalanceDest' has non-numeric"),
        (with_field(2, "oldbalanceDest", "n/a"), HEADER, "'oldbalanceDest' has 1 missing value"),
        (with_field(3, "amount", ""), HEADER, "'amount' has 1 missing value(s) (first at row 4)"),
        (with_field(0, "newbalanceDest", "NaN"), HEADER, "'newbalanceDest' has 1 missing value"),
        (with_field(4, "oldbalanceOrg", "-5"), HEADER, "'oldbalanceOrg' has negative value -5"),
        (with_field(0, "type", "WIRE"), HEADER, "unknown value(s) 'WIRE' (1 row(s))"),
        (with_field(0, "type", "payment"), HEADER, "'payment'"),
        (with_field(3, "isFraud", "2"), HEADER, "'isFraud' must be 0 or 1, found 2 at row 4"),
        (with_field(3, "step", "1.5"), HEADER, "'step' has non-integer value 1.5 at row 4"),
        (with_field(3, "step", "-1"), HEADER, "'step' must be a non-negative integer"),
        (with_field(0, "nameOrig", ""), HEADER, "'nameOrig' has 1 missing value(s)"),
        ([r[: -len("1,0")] + "0,0" for r in GOOD_ROWS], HEADER, "has no fraud rows"),
        ([], HEADER, "is empty: it has a header but no data rows"),
    ],
)
def test_malformed_csv_gives_a_clear_data_error(
    tmp_path: Path, rows: list[str], header: str, expected: str
) -> None:
    path = write_csv(tmp_path / "bad.csv", rows, header)
    with pytest.raises(DataError) as raised:
        load_transactions(str(path))
    assert expected in str(raised.value)
    assert str(path) in str(raised.value)


def test_no_fraud_message_is_exact(tmp_path: Path) -> None:
    rows = [GOOD_ROWS[0], GOOD_ROWS[3]]
    path = write_csv(tmp_path / "clean.csv", rows)
    with pytest.raises(
        DataError, match=re.escape("has no fraud rows (isFraud == 1): cannot train")
    ):
        load_transactions(str(path))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty (0 bytes)"),
        ("notgzip.csv.gz", b"step,type\n1,PAYMENT\n", "not a readable CSV"),
        ("broken.parquet", b"PAR1 not really", "not a readable Parquet"),
        ("data.json", b"{}", "unsupported file type"),
        ("data.xlsx", b"", "unsupported file type"),
    ],
)
def test_bad_files_give_data_errors(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(expected)):
        load_transactions(str(path))


def test_missing_file_and_missing_parquet_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_transactions(str(tmp_path / "absent.csv"))
    path = tmp_path / "partial.parquet"
    generate(100, seed=1).drop(columns=["isFraud", "step"]).to_parquet(path)
    with pytest.raises(DataError, match="missing column\\(s\\) step, isFraud"):
        load_transactions(str(path))


@pytest.mark.parametrize(
    ("text", "rows"),
    [("200000", 200_000), ("200_000", 200_000), ("200k", 200_000), ("1M", 1_000_000),
     ("1.5m", 1_500_000), ("2", 2)],
)  # fmt: skip
def test_parse_row_count(text: str, rows: int) -> None:
    assert parse_row_count(text) == rows


@pytest.mark.parametrize("text", ["", "abc", "1.5", "0", "1", "-5", "10x", "1e6"])
def test_parse_row_count_rejects(text: str) -> None:
    with pytest.raises(DataError, match="synthetic:"):
        parse_row_count(text)


def test_synthetic_source_matches_the_generator() -> None:
    loaded = load_transactions("synthetic:2k", seed=9)
    assert loaded.source == "synthetic:2000 (seed 9)"
    assert loaded.sha256 is None
    pd.testing.assert_frame_equal(loaded.frame, generate(2000, seed=9))


def test_hf_dataset_saved_to_disk_loads(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the optional 'hf' extra is not installed")
    frame = generate(1500, seed=6)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    datasets.Dataset(table).save_to_disk(str(tmp_path / "single"))
    loaded = load_transactions(f"hf:{tmp_path / 'single'}")
    assert loaded.sha256 is None and loaded.source == f"hf:{tmp_path / 'single'}"
    pd.testing.assert_frame_equal(loaded.frame, frame)
    # A DatasetDict: the "train" split is used.
    small = datasets.Dataset(table.slice(0, 10))
    datasets.DatasetDict({"test": small, "train": datasets.Dataset(table)}).save_to_disk(
        str(tmp_path / "splits")
    )
    pd.testing.assert_frame_equal(load_transactions(f"hf:{tmp_path / 'splits'}").frame, frame)


def test_hf_bad_sources_give_data_errors(tmp_path: Path) -> None:
    pytest.importorskip("datasets", reason="the optional 'hf' extra is not installed")
    with pytest.raises(DataError, match="no such directory"):
        load_transactions(f"hf:{tmp_path / 'absent'}")
    wrong = pd.DataFrame({"step": [1], "amount": [2.0]})
    import datasets

    datasets.Dataset.from_pandas(wrong).save_to_disk(str(tmp_path / "wrong"))
    with pytest.raises(DataError, match="missing column"):
        load_transactions(f"hf:{tmp_path / 'wrong'}")


def test_hf_without_datasets_installed_says_how_to_install() -> None:
    # A fresh interpreter in which `import datasets` fails, as without the hf extra.
    code = (
        "import sys; sys.modules['datasets'] = None\n"
        "from train.data import DataError, load_transactions\n"
        "try:\n    load_transactions('hf:some/name')\n"
        "except DataError as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "needs the optional 'datasets' package" in result.stdout
    assert "fraudlite[hf]" in result.stdout


@pytest.mark.real_data
@pytest.mark.skipif(not REAL_SAMPLE.is_file(), reason=f"real PaySim sample absent: {REAL_SAMPLE}")
def test_real_sample_loads() -> None:
    loaded = load_transactions(str(REAL_SAMPLE))
    frame = loaded.frame
    assert_canonical(frame)
    assert len(frame) == 132_707
    assert int(frame["isFraud"].sum()) == 4_034
    assert set(frame.loc[frame["isFraud"] == 1, "type"]) == {"TRANSFER", "CASH_OUT"}
    assert loaded.sha256 == hashlib.sha256(REAL_SAMPLE.read_bytes()).hexdigest()


def test_cli_generates_and_reads_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nested" / "gen.parquet"
    assert data_main(["synthetic:3000", "--seed", "5", "-o", str(out), "--quiet"]) == 0
    assert "3,000 rows" in capsys.readouterr().out
    pd.testing.assert_frame_equal(load_transactions(str(out)).frame, generate(3000, seed=5))
    # Convert the file to CSV, then check it without writing.
    csv = tmp_path / "gen.csv"
    assert data_main([str(out), "-o", str(csv), "--quiet"]) == 0
    assert data_main([str(csv), "--quiet"]) == 0
    assert "3,000 rows" in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["missing.csv"], "error: missing.csv: file not found"),
        (["synthetic:lots"], "error: synthetic:lots: N must be a row count"),
        (["synthetic:100", "-o", "out.txt"], "error: out.txt: unsupported output type"),
        (["hf:./nowhere"], "error: hf:./nowhere: no such directory"),
    ],
)
def test_cli_data_errors_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert data_main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected)
    assert "Traceback" not in err


def test_cli_malformed_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "bad.csv", with_field(1, "amount", "abc"))
    assert data_main([str(path), "--quiet"]) == 2
    assert "'amount' has non-numeric value 'abc' at row 2" in capsys.readouterr().err


def test_cli_unwritable_output_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert data_main(["synthetic:100", "-o", str(blocker / "x.csv"), "--quiet"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot write")


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        data_main([])
    assert raised.value.code == 2
    assert "usage: fraud-data" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = subprocess.run(
        [sys.executable, "-m", "train.data_cli", "synthetic:500", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "[synthetic" in result.stderr  # progress on stderr by default
    assert isinstance(load_transactions(str(out)), LoadedData)

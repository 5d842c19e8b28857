"""Load PaySim transactions from a file, the built-in generator or a Hugging Face dataset.

``load_transactions(source)`` accepts:

- a file path ending in ``.csv``, ``.csv.gz`` or ``.parquet`` (the Kaggle PaySim columns);
- ``synthetic:N``: N rows from :mod:`train.synthetic` (``N`` may be ``200000``, ``200_000``,
  ``200k`` or ``1.5M``);
- ``hf:NAME_OR_PATH``: a Hugging Face dataset, a local ``save_to_disk`` directory or a hub name
  (needs the optional ``datasets`` package: ``pip install 'fraudlite[hf]'``).

Every source ends up in the same validated frame (see :mod:`train.data_checks`); every data
problem raises :class:`DataError` with a message naming the source, the column and the problem.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from service.schema import PAYSIM_COLUMNS
from train.data_checks import DataError, canonical_frame

__all__ = ["DataError", "LoadedData", "load_transactions", "parse_row_count"]

#: File suffixes the loader reads.
SUFFIXES: Final = (".csv", ".csv.gz", ".parquet")

#: Arrow types the CSV fast path parses directly; other spellings fall back to a text read.
_CSV_TYPES: Final = {
    "step": pa.int32(),
    "type": pa.dictionary(pa.int32(), pa.string()),
    "amount": pa.float32(),
    "nameOrig": pa.string(),
    "oldbalanceOrg": pa.float32(),
    "newbalanceOrig": pa.float32(),
    "nameDest": pa.string(),
    "oldbalanceDest": pa.float32(),
    "newbalanceDest": pa.float32(),
    "isFraud": pa.int8(),
    "isFlaggedFraud": pa.int8(),
}

_COUNT = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


@dataclass(frozen=True)
class LoadedData:
    """A validated PaySim frame and where it came from."""

    frame: pd.DataFrame
    source: str
    sha256: str | None


def parse_row_count(text: str) -> int:
    """Parse the N of ``synthetic:N``: ``200000``, ``200_000``, ``200k``, ``1M`` or ``1.5M``."""
    match = _COUNT.match(text.strip().replace("_", ""))
    if not match:
        raise DataError(f"synthetic:{text}: N must be a row count such as 200000, 200k or 1M")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    rows = float(match.group(1)) * scale
    if rows != int(rows) or rows < 2:
        raise DataError(f"synthetic:{text}: N must be a whole number of rows, at least 2")
    return int(rows)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _csv_header(path: Path, origin: str) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", errors="replace") as handle:
            return next(csv.reader([handle.readline()]), [])
    except (OSError, EOFError) as error:
        raise DataError(f"{origin}: not a readable CSV file: {error}") from None


def _read_csv(path: Path, origin: str) -> pa.Table:
    if path.stat().st_size == 0:
        raise DataError(f"{origin} is empty (0 bytes)")
    # Check the header first: a wrong header is the likeliest problem and the clearest to report.
    header = _csv_header(path, origin)
    missing = [name for name in PAYSIM_COLUMNS if name not in header]
    if missing:
        raise DataError(
            f"{origin}: missing column(s) {', '.join(missing)}; "
            f"a PaySim file has the columns {', '.join(PAYSIM_COLUMNS)}"
        )
    try:
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=_CSV_TYPES))
    except (pa.ArrowInvalid, OSError, EOFError):
        pass  # Not the plain Kaggle spelling: read as text so the checks can name the problem.
    text_types = {name: pa.string() for name in PAYSIM_COLUMNS}
    try:
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(column_types=text_types, strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as error:
        raise DataError(f"{origin}: not a readable CSV file: {error}") from None


def _read_parquet(path: Path, origin: str) -> pa.Table:
    try:
        schema = pq.read_schema(path)
        present = [name for name in PAYSIM_COLUMNS if name in schema.names]
        return pq.read_table(path, columns=present)
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"{origin}: not a readable Parquet file: {error}") from None


def _load_file(source: str) -> tuple[pa.Table, str, str]:
    path = Path(source)
    origin = str(path)
    name = path.name.lower()
    if not name.endswith(SUFFIXES):
        raise DataError(
            f"{origin}: unsupported file type; expected one of {', '.join(SUFFIXES)}, "
            "or synthetic:N, or hf:NAME_OR_PATH"
        )
    if not path.is_file():
        raise DataError(f"{origin}: file not found")
    reader = _read_parquet if name.endswith(".parquet") else _read_csv
    return reader(path, origin), origin, file_sha256(path)


def _load_hf(name: str) -> tuple[pa.Table, str]:
    origin = f"hf:{name}"
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"{origin}: reading Hugging Face datasets needs the optional 'datasets' package: "
            "pip install 'fraudlite[hf]'"
        ) from None
    local = Path(name).expanduser()
    if name.startswith(("/", "./", "../", "~")) and not local.is_dir():
        # Looks like a path: never let a typo turn into a download attempt from the hub.
        raise DataError(f"{origin}: no such directory (a save_to_disk directory was expected)")
    try:
        if local.is_dir():
            loaded = datasets.load_from_disk(str(local))
        else:
            loaded = datasets.load_dataset(name, split="train")
    except Exception as error:  # datasets raises many types: report any as a data problem.
        raise DataError(f"{origin}: cannot load the dataset: {error}") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if "train" not in loaded and len(splits) != 1:
            raise DataError(f"{origin}: has splits {splits} but no 'train' split")
        loaded = loaded["train" if "train" in loaded else splits[0]]
    return loaded.with_format("arrow")[:], origin


def load_transactions(source: str, *, seed: int = 0, progress: bool = False) -> LoadedData:
    """Load and validate PaySim transactions from ``source`` (see the module docstring).

    ``seed`` only matters for ``synthetic:N``. With ``progress``, stages go to stderr.
    Raises DataError for every data problem (missing file or column, bad values, no fraud).
    """
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress:
            print(f"[data {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr)

    if source.startswith("synthetic:"):
        from train.synthetic import generate

        rows = parse_row_count(source.removeprefix("synthetic:"))
        frame = generate(rows, seed=seed, progress=progress)
        described, digest = f"synthetic:{rows} (seed {seed})", None
    else:
        if source.startswith("hf:"):
            say(f"loading Hugging Face dataset {source.removeprefix('hf:')}")
            table, described = _load_hf(source.removeprefix("hf:"))
            digest = None
        else:
            say(f"reading {source}")
            table, described, digest = _load_file(source)
        say(f"validating {table.num_rows:,} rows")
        frame = canonical_frame(table, described)
        del table
    frauds = int((frame["isFraud"].to_numpy() == 1).sum())
    if frauds == 0:
        raise DataError(f"{described} has no fraud rows (isFraud == 1): cannot train")
    say(f"loaded {len(frame):,} rows, {frauds:,} frauds ({frauds / len(frame):.3%})")
    return LoadedData(frame=frame, source=described, sha256=digest)

"""Where rows come from and go to: local paths, globs, directories, s3:// objects and prefixes.

Everything goes through a :class:`pyarrow.fs.FileSystem`, so reading and writing stream the same
way locally and on S3 (pyarrow's own S3 client: multipart uploads, no boto3 needed for the data).
The S3 endpoint is the standard AWS one unless ``--s3-endpoint-url`` or ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` (boto3's variables, honoured the same way here) point elsewhere, e.g. a moto
server in tests or MinIO.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from batch.errors import SourceError

Format = Literal["csv", "parquet"]

#: File names read from a directory or prefix, and accepted for a single file.
SUFFIXES: Final = (".csv", ".csv.gz", ".parquet")
_WILDCARDS: Final = frozenset("*?[")


@dataclass(frozen=True)
class Location:
    """One file: the filesystem holding it, its path there and how it is shown to a user."""

    filesystem: pafs.FileSystem
    path: str  # "bucket/key" on S3, an absolute path locally
    uri: str  # "s3://bucket/key" or the local path

    @property
    def format(self) -> Format:
        return file_format(self.uri)

    @property
    def compression(self) -> str | None:
        return "gzip" if self.uri.lower().endswith(".gz") else None


def file_format(name: str) -> Format:
    """``parquet`` for ``.parquet``, else ``csv`` (``.csv`` and ``.csv.gz``)."""
    return "parquet" if name.lower().endswith(".parquet") else "csv"


def s3_endpoint(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """The S3 endpoint: ``--s3-endpoint-url``, else boto3's ``AWS_ENDPOINT_URL_S3`` /
    ``AWS_ENDPOINT_URL``; None means AWS itself."""
    return explicit or environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL") or None


def s3_filesystem(endpoint_url: str | None, region: str | None = None) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem, pointed at ``endpoint_url`` (``http://host:port``) when given."""
    options: dict[str, object] = {"region": region or os.environ.get("AWS_DEFAULT_REGION")}
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        options["endpoint_override"] = parts.netloc or parts.path
        options["scheme"] = parts.scheme or "https"
    return pafs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})


@dataclass(frozen=True)
class Storage:
    """Builds the filesystem for a URI: S3 for ``s3://``, the local disk otherwise."""

    s3_endpoint_url: str | None = None

    def locate(self, uri: str) -> Location:
        """The file ``uri`` names (it need not exist yet: outputs are located this way too)."""
        if uri.startswith("s3://"):
            return Location(s3_filesystem(self.s3_endpoint_url), _s3_path(uri), uri)
        path = str(Path(uri.removeprefix("file://")).expanduser().absolute())
        return Location(pafs.LocalFileSystem(), path, uri)

    def expand(self, source: str) -> list[Location]:
        """The input files ``source`` names, in a stable order (sorted by path).

        A file; a directory or S3 prefix (every .csv, .csv.gz and .parquet below it); or a glob
        (``data/*.csv.gz``, ``s3://bucket/2026-*/part-*.parquet``). Raises SourceError when
        nothing matches or a named file has an unsupported type.
        """
        if source.startswith("s3://"):
            found = self._expand_s3(source)
        else:
            found = self._expand_local(source)
        if not found:
            raise SourceError(
                f"{source}: no input files found (expected {', '.join(SUFFIXES)} files)"
            )
        return found

    def _expand_local(self, source: str) -> list[Location]:
        text = source.removeprefix("file://")
        if any(char in text for char in _WILDCARDS):
            names = sorted(p for p in glob.glob(os.path.expanduser(text)) if os.path.isfile(p))
            return [self.locate(p) for p in names if _readable_name(p)]
        path = Path(text).expanduser()
        if path.is_dir():
            names = sorted(str(p) for p in path.rglob("*") if p.is_file() and _readable_name(p))
            return [self.locate(n) for n in names]
        if not path.exists():
            raise SourceError(f"{source}: no such file or directory")
        _check_name(source)
        return [self.locate(text)]

    def _expand_s3(self, source: str) -> list[Location]:
        fs = s3_filesystem(self.s3_endpoint_url)
        path = _s3_path(source, allow_bucket=True)
        wildcard = next((i for i, c in enumerate(path) if c in _WILDCARDS), None)
        if wildcard is not None:
            base = path[: path.rfind("/", 0, wildcard) + 1].rstrip("/")
            pattern = path
        else:
            info = _s3_info(fs, path, source)
            if info.type == pafs.FileType.File:
                _check_name(source)
                return [Location(fs, path, source)]
            base, pattern = path.rstrip("/"), None
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        try:
            infos = fs.get_file_info(selector)
        except OSError as exc:
            raise SourceError(f"{source}: cannot list S3 objects: {_first_line(exc)}") from None
        names = sorted(
            i.path
            for i in infos
            if i.type == pafs.FileType.File
            and _readable_name(i.path)
            and (pattern is None or fnmatch.fnmatchcase(i.path, pattern))
        )
        return [Location(fs, name, f"s3://{name}") for name in names]


def _s3_info(fs: pafs.FileSystem, path: str, source: str) -> pafs.FileInfo:
    try:
        return fs.get_file_info(path)
    except OSError as exc:
        raise SourceError(f"{source}: cannot read from S3: {_first_line(exc)}") from None


def _s3_path(uri: str, allow_bucket: bool = False) -> str:
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket or (not key and not allow_bucket):
        raise SourceError(f"malformed S3 URI {uri!r}: expected s3://bucket/key")
    return f"{bucket}/{key}" if key else bucket


def _readable_name(name: object) -> bool:
    return str(name).lower().endswith(SUFFIXES) and not Path(str(name)).name.startswith(".")


def _check_name(name: str) -> None:
    if not _readable_name(name):
        raise SourceError(f"{name}: unsupported file type; expected one of {', '.join(SUFFIXES)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""A job's plan: the command line as a spec, every input file checked, the outputs' layout.

Planning reads every input file's columns before any row is scored, so a missing column fails the
job at once, naming the file and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from batch.errors import BatchError
from batch.reader import Columns, check_columns, csv_column_type, file_schema
from batch.scoring import OUTPUT_COLUMNS, TRANSACTION_ID, Layout
from batch.sinks import beside
from batch.sources import Location, Storage
from service.model import LoadedModel

Engine = Literal["local", "ray"]


@dataclass(frozen=True)
class JobSpec:
    """What to score and where to write it (the fraud-score command line)."""

    source: str
    model: str
    output: str
    rejects: str | None = None  # default: beside the output, "<name>.rejects.<ext>"
    summary: str | None = None  # default: beside the output, "<name>.summary.json"
    keep: tuple[str, ...] = ()
    workers: int | None = 1  # None: every CPU of the Ray cluster (--engine ray --ray-address)
    engine: Engine = "local"
    ray_address: str | None = None
    s3_endpoint_url: str | None = None
    model_cache_dir: str = "/tmp/fraudlite-model"


@dataclass(frozen=True)
class Plan:
    """A checked job: its input files, the columns to read and the layout of its outputs."""

    spec: JobSpec
    inputs: tuple[Location, ...]
    columns: Columns
    layout: Layout
    output: Location
    rejects: Location
    summary: Location

    @property
    def input_uris(self) -> tuple[str, ...]:
        return tuple(location.uri for location in self.inputs)


def plan_job(spec: JobSpec, model: LoadedModel) -> Plan:
    """Expand SOURCE, check every file's columns against the model, decide the output layout."""
    reserved = sorted(set(spec.keep) & set(OUTPUT_COLUMNS))
    if reserved:
        raise BatchError(f"--keep {', '.join(reserved)}: already an output column")
    storage = Storage(spec.s3_endpoint_url)
    inputs = tuple(storage.expand(spec.source))
    numeric = tuple(i.name for i in model.metadata.inputs if i.type == "float32")
    columns = Columns(
        inputs=tuple(i.name for i in model.metadata.inputs),
        numeric=numeric,
        keep=spec.keep,
        optional=(TRANSACTION_ID,),
    )
    schemas = []
    for location in inputs:
        schema = file_schema(location)
        check_columns(location, schema.names, columns)
        schemas.append(schema)
    keep_types = tuple(_keep_type(name, inputs, schemas, columns) for name in spec.keep)
    layout = Layout(
        use_transaction_id=all(TRANSACTION_ID in s.names for s in schemas),
        multi_file=len(inputs) > 1,
        keep=spec.keep,
        keep_types=keep_types,
    )
    return Plan(
        spec=spec,
        inputs=inputs,
        columns=columns,
        layout=layout,
        output=storage.locate(spec.output),
        rejects=storage.locate(spec.rejects or beside(spec.output, "rejects")),
        summary=storage.locate(spec.summary or beside(spec.output, "summary", ".json")),
    )


def _keep_type(
    name: str, inputs: tuple[Location, ...], schemas: list[pa.Schema], columns: Columns
) -> pa.DataType:
    """A --keep column's output type: Parquet's stored type, text (or float64 input) from CSV."""
    for location, schema in zip(inputs, schemas, strict=True):
        if location.format == "parquet":
            return schema.field(name).type
    return csv_column_type(name, columns)

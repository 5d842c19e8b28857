"""Check a log line against the CloudWatch Embedded Metric Format (EMF) specification.

The rules, from AWS's "Specification: Embedded metric format" (CloudWatch User Guide):

- the log event is one JSON object, nothing before or after it, at most 1 MB;
- the root has an ``_aws`` object holding ``Timestamp`` (epoch milliseconds, a number) and
  ``CloudWatchMetrics``, an array of MetricDirective objects;
- a MetricDirective has ``Namespace`` (a string), ``Dimensions`` (an array of DimensionSets, each
  an array of at most 30 dimension names, each a string) and ``Metrics`` (an array of at most 100
  MetricDefinitions);
- a MetricDefinition has ``Name`` (a string) and optionally ``Unit`` (one of CloudWatch's units)
  and ``StorageResolution`` (1 or 60);
- every dimension name is a top-level member whose value is a string; every metric name is a
  top-level member whose value is a number or an array of at most 100 numbers.

A few limits CloudWatch enforces when it extracts metrics are checked too: the namespace's
characters, name and value lengths, and a timestamp no older than two weeks nor more than two
hours ahead (older or newer events are not turned into metrics).
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
MAX_EVENT_BYTES = 1024 * 1024
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
NAMESPACE = re.compile(r"^[A-Za-z0-9._#:/-]{1,255}$")
TWO_WEEKS_MS = 14 * 24 * 3600 * 1000
TWO_HOURS_MS = 2 * 3600 * 1000


class EmfError(AssertionError):
    """The line is not a valid EMF record; the message names the rule."""


def is_emf(line: str) -> bool:
    """Whether ``line`` claims to be EMF: a JSON object with an ``_aws`` member."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "_aws" in record


def check_emf(line: str, now_ms: int | None = None) -> dict[str, Any]:
    """Parse ``line`` and check every rule above; returns the record, raises EmfError."""
    if len(line.encode()) > MAX_EVENT_BYTES:
        raise EmfError("event larger than 1 MB")
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise EmfError(f"not one JSON object: {exc}") from None
    _require(isinstance(record, dict), "root is not a JSON object")
    meta = record.get("_aws")
    _require(isinstance(meta, dict), "_aws is missing or not an object")
    stamp = meta.get("Timestamp")
    _require(
        isinstance(stamp, int | float) and not isinstance(stamp, bool),
        "_aws.Timestamp not a number",
    )
    now = int(time.time() * 1000) if now_ms is None else now_ms
    _require(stamp > 10**12, f"_aws.Timestamp {stamp} is not in milliseconds")
    _require(now - TWO_WEEKS_MS <= stamp <= now + TWO_HOURS_MS, "_aws.Timestamp out of range")
    directives = meta.get("CloudWatchMetrics")
    _require(isinstance(directives, list) and directives, "_aws.CloudWatchMetrics empty")
    for directive in directives:
        _check_directive(directive, record)
    return record


def _check_directive(directive: Any, record: dict[str, Any]) -> None:
    _require(isinstance(directive, dict), "MetricDirective is not an object")
    namespace = directive.get("Namespace")
    _require(isinstance(namespace, str) and NAMESPACE.match(namespace), "bad Namespace")
    dimension_sets = directive.get("Dimensions")
    _require(isinstance(dimension_sets, list), "Dimensions is not an array")
    for dimension_set in dimension_sets:
        _require(isinstance(dimension_set, list), "a DimensionSet is not an array")
        _require(len(dimension_set) <= MAX_DIMENSIONS_PER_SET, "more than 30 dimensions")
        for name in dimension_set:
            _require(isinstance(name, str) and 0 < len(name) <= 250, f"bad dimension {name!r}")
            value = record.get(name)
            _require(isinstance(value, str), f"dimension {name} is not a top-level string")
            _require(value.strip() != "" and len(value) <= 1024, f"bad {name} value")
    metrics = directive.get("Metrics")
    _require(isinstance(metrics, list) and metrics, "Metrics empty or not an array")
    _require(len(metrics) <= MAX_METRICS_PER_DIRECTIVE, "more than 100 metrics")
    names = [m.get("Name") if isinstance(m, dict) else None for m in metrics]
    _require(len(set(names)) == len(names), "a metric is declared twice")
    for definition in metrics:
        _require(isinstance(definition, dict), "MetricDefinition is not an object")
        name = definition.get("Name")
        _require(isinstance(name, str) and 0 < len(name) <= 1024, f"bad metric Name {name!r}")
        unit = definition.get("Unit", "None")
        _require(unit in UNITS, f"metric {name}: unknown Unit {unit!r}")
        resolution = definition.get("StorageResolution", 60)
        _require(resolution in (1, 60), f"metric {name}: StorageResolution not 1 or 60")
        _require(name in record, f"metric {name} is not a top-level member")
        _check_value(name, record[name])


def _check_value(name: str, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    _require(0 < len(values) <= MAX_VALUES_PER_METRIC, f"metric {name}: 1-100 values")
    for v in values:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        _require(ok, f"metric {name}: value {v!r} is not a finite number")


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise EmfError(message)

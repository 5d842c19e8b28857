"""The headline figures of a full run, with ratios against the baseline and the issue's targets.

A ratio is always "times better for fraudlite": baseline / fraudlite where lower is better
(latency, memory, size), fraudlite / baseline where higher is better (throughput). Targets are
reported, never asserted: a noisy machine may miss them, and the table says so.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import ratio

#: The issue's targets, as minimum ratios.
TARGETS = {
    "cold_start": 5.0,
    "single_row_p50": 20.0,
    "load_p99": 3.0,
    "load_requests_per_s": 3.0,
    "footprint": 3.0,
    "footprint_cpu": 3.0,
    # Issue 20: cold start at most 1.3x the bare-onnxruntime floor (floor / fraudlite >= 1/1.3).
    "cold_start_floor": 1 / 1.3,
}


def _row(
    key: str, label: str, unit: str, ours: float | None, theirs: float | None, lower_is_better: bool
) -> dict[str, Any]:
    times = ratio(theirs, ours) if lower_is_better else ratio(ours, theirs)
    target = TARGETS.get(key)
    return {
        "key": key,
        "metric": label,
        "unit": unit,
        "fraudlite": ours,
        "baseline": theirs,
        "ratio": times,
        "target_ratio": target,
        "target_met": None if target is None or times is None else times >= target,
    }


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def footprint_figures(
    footprint: dict[str, Any] | None, baseline: str = "baseline"
) -> tuple[float | None, float | None]:
    """Installed dependency MiB of fraudlite and a baseline side, from footprint.py's JSON."""
    sides = (footprint or {}).get("sides", {})
    return _get(sides, "fraudlite", "total_mib"), _get(sides, baseline, "total_mib")


def summarize_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per headline figure of ``report`` (the content of latest.json)."""
    lat = _get(report, "latency", "methods") or {}
    cold = _get(report, "cold_start", "sides") or {}
    loads = _get(report, "load", "targets") or {}
    users = _get(loads, "fraudlite", "users")
    ours_load, theirs_load = loads.get("fraudlite", {}), loads.get("baseline", {})
    files = report.get("model_files_bytes", {})
    mib = 1 / 1024
    rows = [
        _row(
            "cold_start",
            "cold start: fresh process to first answered v2 event, median",
            "s",
            _get(cold, "fraudlite", "wall", "median"),
            _get(cold, "baseline", "wall", "median"),
            True,
        ),
        # --- cold start vs the floor (issue 20): the "baseline" column holds the floor here ---
        _row(
            "cold_start_floor",
            "cold start vs the bare-onnxruntime floor (baseline column: the floor), median",
            "s",
            _get(cold, "fraudlite", "wall", "median"),
            _get(cold, "floor", "wall", "median"),
            True,
        ),
        _row(
            "single_row_p50",
            "in-process single-row scoring p50 (ONNX vs joblib pipeline)",
            "µs",
            _get(lat, "fraudlite_onnx", "single", "p50_us"),
            _get(lat, "joblib_pipeline", "single", "p50_us"),
            True,
        ),
        _row(
            "single_row_p50_explain",
            "in-process single-row scoring p50 with explanations (vs the pipeline without)",
            "µs",
            _get(lat, "fraudlite_onnx", "single_explain", "p50_us"),
            _get(lat, "joblib_pipeline", "single", "p50_us"),
            True,
        ),
        _row(
            "single_row_p99",
            "in-process single-row scoring p99",
            "µs",
            _get(lat, "fraudlite_onnx", "single", "p99_us"),
            _get(lat, "joblib_pipeline", "single", "p99_us"),
            True,
        ),
        _row(
            "batch_rows_per_s",
            "in-process 1000-row batch throughput",
            "rows/s",
            _get(lat, "fraudlite_onnx", "batch_1000", "rows_per_s"),
            _get(lat, "joblib_pipeline", "batch_1000", "rows_per_s"),
            False,
        ),
        _row(
            "load_requests_per_s",
            f"Locust {users} users: requests/s (mixed)",
            "req/s",
            ours_load.get("requests_per_s"),
            theirs_load.get("requests_per_s"),
            False,
        ),
        _row(
            "load_p99",
            f"Locust {users} users: p99 latency (mixed)",
            "ms",
            _get(ours_load, "latency_ms", "p99"),
            _get(theirs_load, "latency_ms", "p99"),
            True,
        ),
        _row(
            "load_single_p99",
            f"Locust {users} users: p99 of single transactions",
            "ms",
            _get(ours_load, "by_name", "single", "latency_ms", "p99"),
            _get(theirs_load, "by_name", "single", "latency_ms", "p99"),
            True,
        ),
        _row(
            "load_transactions_per_s",
            f"Locust {users} users: transactions scored/s",
            "tx/s",
            ours_load.get("transactions_per_s"),
            theirs_load.get("transactions_per_s"),
            False,
        ),
        _row(
            "peak_rss",
            "server peak RSS after the load run",
            "MiB",
            _scale(_get(ours_load, "memory_kib", "after_load", "peak_rss_kib"), mib),
            _scale(_get(theirs_load, "memory_kib", "after_load", "peak_rss_kib"), mib),
            True,
        ),
        _row(
            "footprint",
            "installed dependencies (baseline with the standard xgboost wheel)",
            "MiB",
            *footprint_figures(report.get("footprint")),
            True,
        ),
        _row(
            "footprint_cpu",
            "installed dependencies (baseline with xgboost-cpu)",
            "MiB",
            *footprint_figures(report.get("footprint"), "baseline_cpu"),
            True,
        ),
        _row(
            "model_file",
            "model file (model.onnx vs pipeline.joblib)",
            "KiB",
            _scale(files.get("model.onnx"), 1 / 1024),
            _scale(files.get("pipeline.joblib"), 1 / 1024),
            True,
        ),
    ]
    return rows


def _scale(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(report: dict[str, Any]) -> str:
    """A Markdown table of the summary rows, with the run's machine and time."""
    machine = report.get("machine", {})
    lines = [
        f"Measured {report.get('timestamp', '?')} on {machine.get('cpu_count', '?')} CPU(s) "
        f"({machine.get('cpu_model', '?')}), load average {machine.get('load_average_1m', '?')} "
        "at start.",
        "",
        "| metric | unit | fraudlite | baseline | ratio (x better) | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in report.get("summary", []):
        target = ""
        if row["target_ratio"] is not None:
            verdict = {True: "met", False: "missed", None: "n/a"}[row["target_met"]]
            target = f">= {row['target_ratio']:g}x: {verdict}"
        lines.append(
            f"| {row['metric']} | {row['unit']} | {_fmt(row['fraudlite'])} | "
            f"{_fmt(row['baseline'])} | {_fmt(row['ratio'])} | {target} |"
        )
    rie = (report.get("cold_start") or {}).get("rie")
    if rie and "skipped" in rie:
        lines += ["", f"Lambda Runtime Interface Emulator: not measured ({rie['skipped']})."]
    elif rie:
        lines += [
            "",
            f"fraudlite under the Lambda Runtime Interface Emulator: start to first answered "
            f"invoke {_fmt(_get(rie, 'first_invoke_s', 'median'))} s (median), warm invoke "
            f"{_fmt(_get(rie, 'warm_invoke_ms', 'p50'))} ms (p50).",
        ]
    return "\n".join(lines) + "\n"

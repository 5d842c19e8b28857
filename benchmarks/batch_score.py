"""Batch scoring at the full PaySim volume: fraud-score (local and Ray engines) against the replaced
approach (pandas reading in chunks + the joblib'd pipeline's ``predict_proba``), CSV and Parquet.

    python -m benchmarks.batch_score                      # 6,362,620 rows, every engine and format
    python -m benchmarks.batch_score --rows 1000000 --engines local,baseline --formats csv

Each run is a fresh process (``--child``), timed end to end as a user would see it (imports, model
load, reading, scoring, writing a Parquet result), with its peak RSS (the process's own high-water
mark, VmHWM; for Ray the sum over the process tree, driver, raylet and workers, sampled every
0.1 s) and its CPU seconds, which a busy shared machine disturbs less than wall time. Both sides
write the same Parquet output (row, probability, decision) and get the same cores: fraud-score
2 workers, the baseline's XGBoost its default threads (all cores). The engines run back to back in
``--repeats`` rounds whose order alternates (baseline, local, ray, then ray, local, baseline, ...),
so a neighbour's load falls on every arm alike; the comparisons use each arm's median, and every
run records the load average when it started. The data is generated once (train/synthetic.py)
into ``--work`` and reused. Results: benchmarks/results/batch_score.json and batch_score.png.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from benchmarks.common import (
    DEFAULT_RESULTS,
    progress,
    ratio,
    run_metadata,
    write_json,
)

FULL_PAYSIM_ROWS: Final = 6_362_620
#: The replaced approach's chunk size (rows per pandas chunk).
BASELINE_CHUNK: Final = 100_000
#: A model shaped like fraud-train's (trees and depth in the middle of its search space).
MODEL_PARAMS: Final = {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1}
ENGINES: Final = ("baseline", "local", "ray")
FORMATS: Final = ("csv", "parquet")


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- children (one run each)
def child_baseline(source: Path, artifacts: Path, output: Path) -> dict[str, Any]:
    """The replaced approach: pandas chunks -> pipeline.predict_proba -> a Parquet file."""
    import joblib
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    pipeline = joblib.load(artifacts / "pipeline.joblib")
    threshold = json.loads((artifacts / "metrics.json").read_text())["threshold"]
    if source.name.endswith(".parquet"):
        parquet = pq.ParquetFile(source)
        chunks = (b.to_pandas() for b in parquet.iter_batches(batch_size=BASELINE_CHUNK))
    else:
        chunks = pd.read_csv(source, chunksize=BASELINE_CHUNK)
    writer = None
    rows = 0
    for frame in chunks:
        proba = pipeline.predict_proba(frame.drop(columns=["isFraud", "isFlaggedFraud"]))[:, 1]
        table = pa.table(
            {
                "row": pa.array(range(rows, rows + len(frame)), pa.int64()),
                "probability_fraud": proba.astype("float64"),
                "is_fraud": proba >= threshold,
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(output, table.schema)
        writer.write_table(table)
        rows += len(frame)
    if writer is not None:
        writer.close()
    return {"rows": rows}


def child_fraud_score(source: Path, artifacts: Path, output: Path, engine: str) -> dict[str, Any]:
    """fraud-score as a user runs it, 2 workers (the machine's cores)."""
    from batch.cli import main

    args = [str(source), "--model", str(artifacts / "model.onnx"), "-o", str(output)]
    args += ["--workers", "2", "--engine", engine, "--quiet"]
    status = main(args)
    if status != 0:
        raise SystemExit(status)
    summary = json.loads(output.with_name(output.stem + ".summary.json").read_text())
    return {"rows": summary["rows"], "job_seconds": summary["seconds"]}


def run_child(argv: list[str]) -> int:
    engine, source, artifacts, output = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    started = time.perf_counter()
    if engine == "baseline":
        result = child_baseline(source, artifacts, output)
    else:
        result = child_fraud_score(source, artifacts, output, engine)
    result["child_seconds"] = time.perf_counter() - started
    result["peak_rss_kib"] = _peak_rss_kib()
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result["cpu_seconds"] = sum(u.ru_utime + u.ru_stime for u in usage)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------- parent
def sample_tree(pid: int, cpu: dict[int, float]) -> int:
    """Resident memory of a process and all its descendants, KiB (Ray starts several); records
    each one's CPU seconds so far in ``cpu`` (a process's last sample before it ends counts)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
            times = proc.cpu_times()
            cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), times.user + times.system)
        except psutil.NoSuchProcess:
            continue
    return total // 1024


def measure(engine: str, source: Path, artifacts: Path, work: Path) -> dict[str, Any]:
    """Run one child; wall seconds, rows/s, its own peak RSS and the process tree's."""
    output = work / f"out-{engine}-{source.name.split('.')[-1]}.parquet"
    command = [sys.executable, "-m", "benchmarks.batch_score", "--child", engine]
    command += [str(source), str(artifacts), str(output)]
    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    tree_peak = 0
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        tree_peak = max(tree_peak, sample_tree(proc.pid, cpu))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} on {source.name} failed with status {proc.returncode}")
    result = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
    rows = result["rows"]
    # CPU seconds: the child's own count (itself and the children it waited for), or the sampled
    # process tree's when larger (Ray's raylet and workers are not the child's direct children).
    cpu_seconds = max(result["cpu_seconds"], sum(cpu.values()))
    return {
        "engine": engine,
        "format": "parquet" if source.name.endswith(".parquet") else "csv",
        "rows": rows,
        "seconds": round(wall, 2),
        "rows_per_second": round(rows / wall),
        "job_seconds": result.get("job_seconds"),
        "cpu_seconds": round(cpu_seconds, 1),
        "cpu_us_per_row": round(cpu_seconds / max(rows, 1) * 1e6, 2),
        "peak_rss_mib": round(result["peak_rss_kib"] / 1024, 1),
        "tree_peak_rss_mib": round(max(tree_peak, result["peak_rss_kib"]) / 1024, 1),
        "load_average_1m_at_start": round(load_at_start, 2),
    }


def medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per engine and format: the median of its runs (peak RSS: the largest)."""
    rows = []
    for kind in dict.fromkeys(r["format"] for r in results):
        for engine in dict.fromkeys(r["engine"] for r in results):
            runs = [r for r in results if r["format"] == kind and r["engine"] == engine]
            if not runs:
                continue
            row: dict[str, Any] = {"engine": engine, "format": kind, "runs": len(runs)}
            row["rows"] = runs[0]["rows"]
            for key in ("seconds", "rows_per_second", "cpu_seconds", "cpu_us_per_row"):
                row[key] = round(statistics.median(r[key] for r in runs), 2)
            row["rows_per_second"] = round(row["rows_per_second"])
            row["job_seconds"] = (
                round(statistics.median(r["job_seconds"] for r in runs), 2)
                if runs[0]["job_seconds"] is not None
                else None
            )
            for key in ("peak_rss_mib", "tree_peak_rss_mib", "load_average_1m_at_start"):
                row[key] = max(r[key] for r in runs)
            rows.append(row)
    return rows


def ensure_artifacts(artifacts: Path) -> dict[str, Any]:
    """A fitted pipeline and its ONNX export (200 trees, depth 6), built once."""
    if not (artifacts / "model.onnx").exists():
        progress("batch", f"fitting and exporting a benchmark model into {artifacts}")
        import joblib
        from sklearn.pipeline import Pipeline
        from xgboost import XGBClassifier

        from convert.export import export_model
        from service.schema import LABEL_FIELDS
        from train.features import FEATURE_SETS, PaySimFeatures
        from train.synthetic import generate

        frame = generate(200_000, seed=11)
        model = XGBClassifier(**MODEL_PARAMS, n_jobs=2, random_state=0)
        pipeline = Pipeline([("features", PaySimFeatures()), ("model", model)])
        pipeline.fit(frame.drop(columns=list(LABEL_FIELDS)), frame["isFraud"].to_numpy())
        artifacts.mkdir(parents=True, exist_ok=True)
        joblib.dump(pipeline, artifacts / "pipeline.joblib")
        model.get_booster().save_model(str(artifacts / "xgb_model.json"))
        metrics = {
            "threshold": 0.5,
            "feature_set": "full",
            "feature_names": list(FEATURE_SETS["full"]),
            "test": {},
            "rows": 200_000,
            "versions": {},
        }
        (artifacts / "metrics.json").write_text(json.dumps(metrics))
        export_model(artifacts)
    return {"path": str(artifacts), **MODEL_PARAMS}


def ensure_data(work: Path, rows: int, formats: tuple[str, ...]) -> dict[str, Path]:
    """Generated PaySim files of ``rows`` rows (Kaggle layout), written once and reused."""
    files = {kind: work / f"paysim-{rows}.{kind}" for kind in formats}
    if all(path.exists() for path in files.values()):
        return files
    from train.data_cli import write_transactions
    from train.synthetic import generate

    progress("batch", f"generating {rows:,} rows")
    frame = generate(rows, seed=2026, progress=True)
    for path in files.values():
        if not path.exists():
            progress("batch", f"writing {path}")
            write_transactions(frame, path)
    return files


def plot(results: list[dict[str, Any]], path: Path) -> Path:
    from benchmarks.plots import plt, save_figure  # Agg: files only

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    labels = [f"{r['engine']}\n{r['format']}" for r in results]
    colors = {"baseline": "#999999", "local": "#1f77b4", "ray": "#ff7f0e"}
    bar_colors = [colors[r["engine"]] for r in results]
    axes[0].bar(labels, [r["rows_per_second"] / 1e3 for r in results], color=bar_colors)
    axes[0].set_ylabel("thousand rows/s (end to end)")
    runs = results[0].get("runs", 1)
    axes[0].set_title(f"{results[0]['rows']:,} rows, 2 cores, median of {runs} run(s)")
    axes[1].bar(labels, [r["tree_peak_rss_mib"] for r in results], color=bar_colors)
    axes[1].axhline(600, color="red", linestyle="--", linewidth=1, label="600 MiB target")
    axes[1].set_ylabel("peak RSS, MiB (process tree)")
    axes[1].legend()
    axes[2].bar(labels, [r["cpu_us_per_row"] for r in results], color=bar_colors)
    axes[2].set_ylabel("CPU µs per row (all processes)")
    axes[2].set_title("CPU: less disturbed by a busy machine")
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --child, one measured run)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return run_child(argv[1:])
    p = argparse.ArgumentParser(prog="python -m benchmarks.batch_score", description=__doc__)
    p.add_argument("--rows", type=int, default=FULL_PAYSIM_ROWS)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--work", type=Path, default=Path.home() / ".cache" / "fraudlite" / "batch")
    p.add_argument("--artifacts", type=Path, default=None, help="default: WORK/model")
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "batch_score.json")
    p.add_argument(
        "--repeats", type=int, default=2, help="rounds of every engine, in alternating order"
    )
    args = p.parse_args(argv)
    engines = tuple(e for e in args.engines.split(",") if e)
    formats = tuple(f for f in args.formats.split(",") if f)
    args.work.mkdir(parents=True, exist_ok=True)
    meta = run_metadata()
    model = ensure_artifacts(args.artifacts or args.work / "model")
    files = ensure_data(args.work, args.rows, formats)
    results = []
    for kind in formats:
        for round_number in range(args.repeats):
            order = engines if round_number % 2 == 0 else tuple(reversed(engines))
            for engine in order:
                progress("batch", f"{engine} on {files[kind].name} (round {round_number + 1})")
                result = measure(engine, files[kind], Path(model["path"]), args.work)
                result["round"] = round_number + 1
                progress("batch", json.dumps(result))
                results.append(result)
    summary = medians(results)
    comparisons = {}
    for kind in formats:
        by = {r["engine"]: r for r in summary if r["format"] == kind}
        base, local, ray = by.get("baseline"), by.get("local"), by.get("ray")
        comparisons[kind] = {
            "local_vs_baseline_rows_per_second": ratio(
                local and local["rows_per_second"], base and base["rows_per_second"]
            ),
            "ray_seconds_over_local": ratio(ray and ray["seconds"], local and local["seconds"]),
            "baseline_cpu_over_local_cpu": ratio(
                base and base["cpu_seconds"], local and local["cpu_seconds"]
            ),
        }
    document = {
        **meta,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "rows": args.rows,
        "model": model,
        "repeats": args.repeats,
        "summary": summary,
        "comparisons": comparisons,
        "results": results,
        "note": "end-to-end wall time of a fresh process per run; summary rows are medians over "
        "the rounds (peak RSS and load: the largest); the machine is shared (see the load "
        "averages), so figures vary between runs",
    }
    write_json(args.out, document)
    plot(summary, args.out.with_suffix(".png"))
    print(json.dumps(document["comparisons"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

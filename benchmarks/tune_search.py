"""The hyper-parameter search: RandomizedSearchCV (fraud-train's default) against Ray Tune (Optuna's
TPE + ASHA, ``--search ray``) for the same number of candidates, on the same rows and folds.

    python -m benchmarks.tune_search                 # 150,000 generated rows, 8 candidates, 3 folds
    python -m benchmarks.tune_search --rows 60000 --n-iter 4

Each search runs in a fresh process (XGBoost's OpenMP threads spin and would slow the next one);
the figures are the best mean cross-validated PR-AUC (``average_precision``, the search's own
validation figure) and the wall time, Ray's start included. Results:
benchmarks/results/tune_search.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from benchmarks.common import DEFAULT_RESULTS, progress, ratio, run_metadata, write_json

SEARCHES: Final = ("random", "ray")


def run_child(search: str, rows: int, n_iter: int, cv: int, seed: int) -> int:
    """One search on ``rows`` generated rows; prints a RESULT line."""
    from service.schema import LABEL_FIELDS
    from train.pipeline import build_training_pipeline, param_distributions, smote_neighbors
    from train.synthetic import generate

    frame = generate(rows, seed=seed)
    X, y = frame.drop(columns=list(LABEL_FIELDS)), frame["isFraud"]
    imbalance = float((y == 0).sum() / max(int(y.sum()), 1))
    pipeline = build_training_pipeline(
        sampler="smote", smote_neighbors=smote_neighbors(int(y.sum()), cv), seed=seed, n_jobs=2
    )
    space = param_distributions("smote", imbalance)
    started = time.perf_counter()
    kwargs: dict[str, Any] = {
        "n_iter": n_iter,
        "cv": cv,
        "scoring": "average_precision",
        "seed": seed,
    }
    if search == "ray":
        import ray

        from train.search_ray import run_ray_search

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        result = run_ray_search(pipeline, X, y, space, **kwargs)
        ray.shutdown()
        extra = {
            "stopped_early": result.stopped_early,
            "trials": [
                {k: v for k, v in t.items() if k != "config"} | {"params": t["config"]}
                for t in result.trials
            ],
        }
    else:
        from train.search import run_search

        result = run_search(pipeline, X, y, space, **kwargs)
        extra = {}
    seconds = time.perf_counter() - started
    out = {
        "search": search,
        "best_cv_pr_auc": float(result.best_score_),
        "seconds": round(seconds, 1),
        "best_params": {
            k.removeprefix("model__"): _plain(v) for k, v in result.best_params_.items()
        },
        **extra,
    }
    print("RESULT " + json.dumps(out, default=str), flush=True)
    return 0


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def main(argv: list[str] | None = None) -> int:
    """Run both searches, each in its own process, and write the comparison."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        search, rows, n_iter, cv, seed = argv[1], *map(int, argv[2:6])
        return run_child(search, rows, n_iter, cv, seed)
    p = argparse.ArgumentParser(prog="python -m benchmarks.tune_search", description=__doc__)
    p.add_argument("--rows", type=int, default=150_000)
    p.add_argument("--n-iter", type=int, default=8)
    p.add_argument("--cv", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "tune_search.json")
    args = p.parse_args(argv)
    meta = run_metadata()
    results = {}
    for search in SEARCHES:
        progress(
            "tune", f"{search}: {args.n_iter} candidates x {args.cv} folds, {args.rows:,} rows"
        )
        command = [sys.executable, "-m", "benchmarks.tune_search", "--child", search]
        command += [str(v) for v in (args.rows, args.n_iter, args.cv, args.seed)]
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        results[search] = {**json.loads(line[7:]), "process_seconds": time.perf_counter() - started}
        progress("tune", json.dumps({k: results[search][k] for k in ("best_cv_pr_auc", "seconds")}))
    document = {
        **meta,
        "rows": args.rows,
        "n_iter": args.n_iter,
        "cv": args.cv,
        "results": results,
        "comparison": {
            "ray_minus_random_best_cv_pr_auc": results["ray"]["best_cv_pr_auc"]
            - results["random"]["best_cv_pr_auc"],
            "ray_seconds_over_random": ratio(
                results["ray"]["seconds"], results["random"]["seconds"]
            ),
        },
        "note": "one run each on a shared 2-core machine (see the load average); TPE is seeded "
        "but learns from trials in the order they finish, so Ray's candidates can vary",
    }
    write_json(args.out, document)
    print(json.dumps(document["comparison"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

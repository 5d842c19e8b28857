"""Hyper-parameter search on Ray Tune: Optuna's TPE proposes, ASHA stops weak trials early.

The same search space (train/pipeline.py), the same stratified folds
(:func:`train.search.stratified_folds`) and the same objective (the sklearn scorer's metric,
averaged over the folds) as :func:`train.search.run_search`; the best candidate is refitted on
all rows, as ``RandomizedSearchCV(refit=True)`` does, so run.py writes the same artifacts and
report.

What Ray adds: trials run in parallel over the cluster's CPUs (one CPU each, XGBoost with one
thread), Optuna's TPE sampler chooses each new candidate from the results so far, and ASHA stops a
trial whose folds' XGBoost evaluation (``aucpr`` while boosting, every :data:`TREES_PER_REPORT`
trees) is behind the others at the same number of trees. Requires ``pip install 'fraudlite[ray]'``.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import average_precision_score, f1_score, recall_score, roc_auc_score

from train.search import check_scoring, stratified_folds

#: Trees added between two reports to the scheduler.
TREES_PER_REPORT: Final = 50
#: The scheduler's metric: XGBoost's own evaluation on the fold's held-out rows, while boosting.
SCHEDULER_METRIC: Final = "xgb_aucpr"
#: The final objective of a completed trial: the search's scorer, mean over the folds.
OBJECTIVE: Final = "score"


@dataclass
class RaySearchResult:
    """What run.py reads from a search: the refitted best pipeline, its params and mean score."""

    best_estimator_: Any
    best_params_: dict[str, Any]
    best_score_: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def stopped_early(self) -> int:
        return sum(1 for t in self.trials if t.get("stopped_early"))


def tune_space(param_distributions: dict[str, Any]) -> dict[str, Any]:
    """scipy distributions of the search space as Ray Tune domains (same ranges and scales)."""
    from ray import tune

    space: dict[str, Any] = {}
    for name, dist in param_distributions.items():
        kind, args = dist.dist.name, dist.args
        if kind == "randint":
            space[name] = tune.randint(int(args[0]), int(args[1]))  # upper bound exclusive
        elif kind in ("loguniform", "reciprocal"):
            space[name] = tune.loguniform(float(args[0]), float(args[1]))
        elif kind == "uniform":
            space[name] = tune.uniform(float(args[0]), float(args[0]) + float(args[1]))
        else:
            raise ValueError(f"no Ray Tune equivalent for {name}: scipy {kind}{args}")
    return space


def _metric(scoring: str, labels: np.ndarray, proba: np.ndarray) -> float:
    """The sklearn scorer's value from probabilities (recall and f1 at predict's 0.5 cut)."""
    if scoring == "average_precision":
        return float(average_precision_score(labels, proba))
    if scoring == "roc_auc":
        return float(roc_auc_score(labels, proba))
    predicted = (proba > 0.5).astype(int)
    if scoring == "recall":
        return float(recall_score(labels, predicted, zero_division=0))
    return float(f1_score(labels, predicted, zero_division=0))


def _fold_data(pipeline: Any, X: pd.DataFrame, y: np.ndarray, cv: int, seed: int) -> list[Any]:
    """Per fold: features fitted on its training rows, SMOTE applied to them (as the pipeline
    does in fit), and the held-out rows' features, as float32 arrays (put in Ray's object store
    once and shared by every trial)."""
    folds = stratified_folds(cv, seed)
    out = []
    for train_rows, test_rows in folds.split(X, y):
        features = clone(pipeline.named_steps["features"])
        f_train = features.fit_transform(X.iloc[train_rows], y[train_rows])
        f_test = features.transform(X.iloc[test_rows])
        y_train = y[train_rows]
        if "smote" in pipeline.named_steps:
            f_train, y_train = clone(pipeline.named_steps["smote"]).fit_resample(f_train, y_train)
        out.append(
            (
                np.asarray(f_train, dtype=np.float32),
                np.asarray(y_train),
                np.asarray(f_test, dtype=np.float32),
                y[test_rows],
            )
        )
    return out


def booster_params(model: Any, trial: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The pipeline's XGBClassifier parameters with the trial's on top, as XGBoost's native
    training takes them (the sklearn wrapper passes the same names), and the number of trees.
    One thread per trial: trials, not threads, use the cluster's CPUs."""
    chosen = {k.removeprefix("model__"): v for k, v in trial.items()}
    trees = int(chosen.pop("n_estimators", None) or model.n_estimators or 100)
    params = {**model.get_xgb_params(), **chosen, "n_jobs": 1, "verbosity": 0}
    params["eval_metric"] = "aucpr"
    return params, trees


def _trainable(config: dict[str, Any], folds: list[Any], model: Any, scoring: str) -> None:
    """One trial: boost every fold TREES_PER_REPORT trees at a time, report the folds' mean
    aucpr; at the end, report the scorer's mean over the folds as the objective."""
    import xgboost as xgb
    from ray import tune

    params, trees = booster_params(model, config)
    data = [
        (xgb.DMatrix(f_train, label=y_train), xgb.DMatrix(f_test, label=y_test), y_test)
        for f_train, y_train, f_test, y_test in folds
    ]
    boosters: list[Any] = [None] * len(data)
    done = 0
    while done < trees:
        step = min(TREES_PER_REPORT, trees - done)
        values = []
        for index, (train, test, _) in enumerate(data):
            boosters[index] = xgb.train(params, train, step, xgb_model=boosters[index])
            # "[0]\teval-aucpr:0.97...": XGBoost's own evaluation, as during boosting
            values.append(float(boosters[index].eval(test, "eval").split(":")[-1]))
        done += step
        report = {SCHEDULER_METRIC: float(np.mean(values)), "trees": done}
        if done >= trees:
            report[OBJECTIVE] = float(
                np.mean(
                    [
                        _metric(scoring, labels, booster.predict(test))
                        for booster, (_, test, labels) in zip(boosters, data, strict=True)
                    ]
                )
            )
        tune.report(report)


def _progress_callback(total: int, stream: TextIO) -> Any:
    """A Tune callback printing one line per finished trial (defined when Ray is imported)."""
    from ray.tune import Callback

    progress = type("TrialProgress", (_TrialProgress, Callback), {})
    return progress(total, stream)


class _TrialProgress:
    """One line per finished trial: completed or stopped early, the best score so far."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.finished = 0
        self.best = -math.inf
        self.started = time.perf_counter()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its run configuration; the stream (maybe a captured one) stays out.
        return {**self.__dict__, "stream": None}

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.finished += 1
        last = trial.last_result or {}
        if OBJECTIVE in last:
            self.best = max(self.best, last[OBJECTIVE])
            what = f"done, {OBJECTIVE}={last[OBJECTIVE]:.4f}"
        else:
            what = f"stopped early at {last.get('trees', 0)} trees"
        best = f"{self.best:.4f}" if math.isfinite(self.best) else "n/a"
        print(
            f"[search] trial {self.finished}/{self.total} {what}  "
            f"{SCHEDULER_METRIC}={last.get(SCHEDULER_METRIC, float('nan')):.4f}  "
            f"best so far={best}  elapsed {time.perf_counter() - self.started:.0f}s",
            file=self.stream or sys.stderr,
            flush=True,
        )


def run_ray_search(
    pipeline: Any,
    X: pd.DataFrame,
    y: pd.Series,
    param_distributions: dict[str, Any],
    *,
    n_iter: int,
    cv: int,
    scoring: str,
    seed: int,
    stream: TextIO | None = None,
    address: str | None = None,
) -> RaySearchResult:
    """Tune ``pipeline`` on Ray Tune and refit the best candidate on all of ``X``.

    Without ``address`` a local Ray instance (all local CPUs) is started and stopped; with one
    (``auto``, ``ray://head:10001``) the trials run on that cluster.
    """
    check_scoring(scoring)
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
        from ray.tune.search.optuna import OptunaSearch
    except ImportError:
        raise ValueError(
            "--search ray needs Ray Tune and Optuna: pip install 'fraudlite[ray]'"
        ) from None
    stream = stream or sys.stderr
    started = time.perf_counter()
    labels = y.to_numpy()
    folds = _fold_data(pipeline, X, labels, cv, seed)
    model = pipeline.named_steps["model"]
    reports = math.ceil(max(_upper_trees(param_distributions), 1) / TREES_PER_REPORT)
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, folds=folds, model=model, scoring=scoring), {"cpu": 1}
        )
        with tempfile.TemporaryDirectory(prefix="fraud-tune-") as storage:
            tuner = tune.Tuner(
                trainable,
                param_space=tune_space(param_distributions),
                tune_config=tune.TuneConfig(
                    metric=SCHEDULER_METRIC,
                    mode="max",
                    num_samples=n_iter,
                    search_alg=OptunaSearch(seed=seed),
                    scheduler=ASHAScheduler(
                        time_attr="training_iteration",
                        max_t=reports,
                        grace_period=min(2, reports),
                        reduction_factor=3,
                    ),
                ),
                run_config=tune.RunConfig(
                    name="fraud-train",
                    storage_path=storage,
                    verbose=0,
                    callbacks=[_progress_callback(n_iter, stream)],
                ),
            )
            results = tuner.fit()
            trials = [_trial_record(r) for r in results]
    finally:
        if started_here:
            ray.shutdown()
    completed = [t for t in trials if t["score"] is not None]
    if not completed:
        errors = [str(r.error) for r in results if r.error][:1]
        raise ValueError(f"no Ray Tune trial completed: {errors or 'all stopped early'}")
    best = max(completed, key=lambda t: t["score"])
    best_params = {k: _plain(v) for k, v in best["config"].items()}
    estimator = clone(pipeline).set_params(**best_params).fit(X, y)
    return RaySearchResult(
        best_estimator_=estimator,
        best_params_=best_params,
        best_score_=float(best["score"]),
        trials=trials,
        seconds=time.perf_counter() - started,
    )


def _trial_record(result: Any) -> dict[str, Any]:
    metrics = result.metrics or {}
    return {
        "config": dict(result.config or {}),
        "score": metrics.get(OBJECTIVE),
        SCHEDULER_METRIC: metrics.get(SCHEDULER_METRIC),
        "trees": metrics.get("trees"),
        "stopped_early": OBJECTIVE not in metrics,
    }


def _upper_trees(param_distributions: dict[str, Any]) -> int:
    dist = param_distributions.get("model__n_estimators")
    return int(dist.args[1]) if dist is not None else 100


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value

"""One training run: split, search, threshold, evaluation and every artifact on disk."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from train.calibration import (
    RELIABILITY_FILE,
    Correction,
    balancing_weight,
    calibration_summary,
    plot_reliability,
)
from train.evaluate import evaluate, precision_at_recall
from train.explain_report import PLOT_FILE, global_contributions
from train.features import FEATURE_SETS
from train.folds import fit_folds
from train.intervals import decision_intervals
from train.out_of_fold import OutOfFold, correct, out_of_fold_scores, smote_ratio_of
from train.pipeline import (
    Sampler,
    build_training_pipeline,
    inference_pipeline,
    param_distributions,
    smote_neighbors,
)
from train.report import plot_pr_curve, render_report, write_metrics
from train.search import run_search
from train.split import Split, SplitKind, split_rows
from train.threshold import (
    DEFAULT_CONFIDENCE,
    ThresholdChoice,
    ThresholdPolicy,
    choose,
    expected_cost,
    parse_policy,
)
from train.versions import package_versions

VERSIONED = ("numpy", "pandas", "scikit-learn", "imbalanced-learn", "xgboost", "xgboost-cpu")

#: What each feature set is fit for, in plain words, for the report.
FIT_FOR = {
    "full": "scoring a transaction after it executed (post-transaction balances known): "
    "review queues, account freezes, chargeback defence. Not a pre-authorization gate.",
    "preauth": "deciding before a transaction executes (only pre-transaction state known): "
    "blocking or stepping up authentication at authorization time.",
}


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (the fraud-train command line)."""

    out: Path = Path("artifacts")
    feature_set: str = "full"
    scoring: str = "average_precision"
    n_iter: int = 8
    cv: int = 3
    sampler: Sampler = "smote"
    smote_ratio: float = 0.1
    split: SplitKind = "step"
    test_size: float = 0.2
    validation_size: float = 0.2
    target_recall: float = 0.95
    seed: int = 0
    n_jobs: int = 2
    legit_weight: float = 1.0
    compare_feature_sets: bool = False
    # --- threshold policy and probability correction (issue 21) ---
    threshold_policy: str | None = None  # None: recall:<target_recall>
    confidence: float = DEFAULT_CONFIDENCE
    cost_per_amount: bool = False
    folds: int = 4
    correction: Correction = "prior"
    # --- distributed search on Ray Tune (issue 19) ---
    search: str = "random"  # random: RandomizedSearchCV; ray: Ray Tune (train/search_ray.py)
    ray_address: str | None = None  # with search="ray": a cluster; None starts a local Ray

    def policy(self) -> ThresholdPolicy:
        """The threshold policy this run applies (``--threshold-policy``, else the recall one)."""
        return parse_policy(
            self.threshold_policy or f"recall:{self.target_recall}",
            confidence=self.confidence,
            per_amount=self.cost_per_amount,
        )

    def recall_target(self) -> float:
        """The recall a recall policy promises; ``target_recall`` under other policies."""
        policy = self.policy()
        return policy.target if policy.kind == "recall" and policy.target else self.target_recall


@dataclass(frozen=True)
class EvalSet:
    """An extra labelled set to evaluate the trained model on (e.g. real PaySim rows)."""

    name: str
    frame: pd.DataFrame
    legit_weight: float = 1.0


@dataclass(frozen=True)
class Fitted:
    """One tuned feature set: the inference pipeline, its threshold and its held-out scores."""

    feature_set: str
    model: Pipeline
    threshold: float
    search: Any
    out_of_fold: OutOfFold
    choice: ThresholdChoice
    log_odds_shift: float
    test_proba: np.ndarray
    search_seconds: float


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape the model."""
    return package_versions(VERSIONED)


def _features_and_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=["isFraud", "isFlaggedFraud"]), frame["isFraud"]


def _weights(labels: np.ndarray, legit_weight: float) -> np.ndarray | None:
    return None if legit_weight == 1 else np.where(labels == 1, 1.0, legit_weight)


def fit_feature_set(
    X: pd.DataFrame,
    y: pd.Series,
    split: Split,
    config: TrainConfig,
    feature_set: str,
    stream: TextIO,
) -> Fitted:
    """Search on every row before the test part, choose the threshold on out-of-fold scores.

    The tuned pipeline is refitted per fold (train/folds.py: forward-chaining for a step split),
    every fitted model is corrected to the served population (train/calibration.py), and the
    threshold policy is applied to the out-of-fold scores; the final model then scores the test.
    """
    # The validation slice is no longer set aside: the folds cover it (issue 21).
    fit_rows = np.concatenate([split.train, split.validation])
    X_train, y_train = X.iloc[fit_rows], y.iloc[fit_rows]
    imbalance = float((y_train == 0).sum() / max(int(y_train.sum()), 1))
    print(f"[train] feature set {feature_set}", file=stream, flush=True)
    pipeline = build_training_pipeline(
        feature_set=feature_set,
        sampler=config.sampler,
        smote_ratio=config.smote_ratio,
        smote_neighbors=smote_neighbors(int(y_train.sum()), config.cv)
        if config.sampler == "smote"
        else 5,
        seed=config.seed,
        n_jobs=config.n_jobs,
    )
    space = param_distributions(config.sampler, imbalance)
    if config.correction == "weights":
        # Weights in training: the class balance the booster sees is the served population's.
        space.pop("model__scale_pos_weight", None)
        pipeline.set_params(
            model__scale_pos_weight=balancing_weight(
                y_train.to_numpy(), smote_ratio_of(pipeline), config.legit_weight
            )
        )
    started = time.perf_counter()
    search = search_function(config)(
        pipeline,
        X_train,
        y_train,
        space,
        n_iter=config.n_iter,
        cv=config.cv,
        scoring=config.scoring,
        seed=config.seed,
        stream=stream,
    )
    seconds = time.perf_counter() - started
    labels = y_train.to_numpy()
    folds = fit_folds(config.split, X_train["step"].to_numpy(), labels, config.folds, config.seed)
    oof = out_of_fold_scores(
        search.best_estimator_,
        X_train,
        labels,
        folds,
        correction=config.correction,
        legit_weight=config.legit_weight,
        stream=stream,
    )
    policy = config.policy()
    choice = choose(
        policy,
        labels[oof.rows],
        oof.scores,
        config.legit_weight,
        X_train["amount"].to_numpy()[oof.rows],
    )
    if not choice.met:
        print(
            f"[threshold] warning: no threshold keeps {policy.spec} at confidence "
            f"{policy.confidence} on {choice.figures['fraud']} out-of-fold frauds; "
            "the point estimate was used",
            file=stream,
            flush=True,
        )
    shift = correct(search.best_estimator_, labels, config.legit_weight)
    model = inference_pipeline(search.best_estimator_)
    test_proba = model.predict_proba(X.iloc[split.test])[:, 1]
    return Fitted(
        feature_set, model, choice.threshold, search, oof, choice, shift, test_proba, seconds
    )


def _summary(fitted: Fitted, test_y: np.ndarray, config: TrainConfig) -> dict[str, Any]:
    weights = _weights(test_y, config.legit_weight)
    result = evaluate(test_y, fitted.test_proba, fitted.threshold, weights)
    return {
        "inputs": "pre-transaction only" if fitted.feature_set == "preauth" else "all fields",
        "pr_auc": result["pr_auc"],
        "recall_at_precision_0_9": result["recall_at_precision_0_9"],
        "precision_at_target_recall": precision_at_recall(
            test_y, fitted.test_proba, config.recall_target(), weights
        ),
        "threshold": fitted.threshold,
        "precision": result["precision"],
        "recall": result["recall"],
        "fit_for": FIT_FOR[fitted.feature_set],
    }


def train_model(
    frame: pd.DataFrame,
    config: TrainConfig,
    data_info: dict[str, Any],
    extra_eval: tuple[EvalSet, ...] = (),
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Train, tune, choose the threshold, evaluate, and write the artifacts to ``config.out``.

    With ``config.compare_feature_sets`` every other feature set is tuned on the same split too
    and summarised beside it (``metrics["feature_sets"]``); only ``config.feature_set`` is saved.
    Returns the metrics dictionary also written to ``metrics.json``.
    """
    started = time.perf_counter()
    stream = stream or sys.stderr  # looked up per call, so redirected stderr is honoured
    config.out.mkdir(parents=True, exist_ok=True)
    split = split_rows(frame, config.split, config.test_size, config.validation_size, config.seed)
    # One copy without the labels, shared by every feature set and the report.
    X, y = _features_and_labels(frame)
    print(
        f"[train] {len(frame):,} rows; fit {split.train.size + split.validation.size:,} "
        f"(tuning, out-of-fold threshold) / test {split.test.size:,} ({config.split} split)",
        file=stream,
        flush=True,
    )
    fitted = fit_feature_set(X, y, split, config, config.feature_set, stream)
    model, threshold = fitted.model, fitted.threshold
    test_y = y.iloc[split.test].to_numpy()
    policy = config.policy()

    joblib.dump(model, config.out / "pipeline.joblib")
    model.named_steps["model"].get_booster().save_model(str(config.out / "xgb_model.json"))
    plot_pr_curve(config.out / "pr_curve.png", test_y, fitted.test_proba, threshold)
    explanations = global_contributions(
        model, X.iloc[split.test], config.out / PLOT_FILE, seed=config.seed, stream=stream
    )
    test_amounts = X["amount"].to_numpy()[split.test]
    test = held_out_figures(
        test_y, fitted.test_proba, threshold, config.legit_weight, policy, test_amounts
    )
    plot_reliability(
        config.out / RELIABILITY_FILE,
        test_y,
        fitted.test_proba,
        _weights(test_y, config.legit_weight),
        "fraudlite: reliability on held-out data"
        + (f" (legit x{config.legit_weight:g})" if config.legit_weight != 1 else ""),
    )

    search = fitted.search
    metrics: dict[str, Any] = {
        "feature_set": config.feature_set,
        "feature_names": list(FEATURE_SETS[config.feature_set]),
        "threshold": threshold,
        "target_recall": config.recall_target(),
        "legit_weight": config.legit_weight,
        "threshold_policy": threshold_policy_record(fitted, config),
        "probability": {
            "correction": config.correction,
            "legit_weight": config.legit_weight,
            "log_odds_shift": fitted.log_odds_shift,
        },
        "out_of_fold": {**fitted.choice.figures, "folds": fitted.out_of_fold.folds},
        "test": test,
        "rows": split.describe(y),
        "data": data_info,
        "params": {k.removeprefix("model__"): _plain(v) for k, v in search.best_params_.items()},
        "search": {
            "sampler": config.sampler,
            "smote_ratio": config.smote_ratio if config.sampler == "smote" else None,
            "scoring": config.scoring,
            "n_iter": config.n_iter,
            "cv": config.cv,
            "best_score": float(search.best_score_),
        },
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "versions": library_versions(),
        "explanations": explanations,
    }
    if config.compare_feature_sets:
        others = [name for name in FEATURE_SETS if name != config.feature_set]
        metrics["feature_sets"] = {config.feature_set: _summary(fitted, test_y, config)} | {
            name: _summary(fit_feature_set(X, y, split, config, name, stream), test_y, config)
            for name in others
        }
    for extra in extra_eval:
        ex_X, ex_y = _features_and_labels(extra.frame)
        labels = ex_y.to_numpy()
        proba = model.predict_proba(ex_X)[:, 1]
        result = held_out_figures(
            labels, proba, threshold, extra.legit_weight, policy, ex_X["amount"].to_numpy()
        )
        metrics.setdefault("external", {})[extra.name] = {
            **result,
            "legit_weight": extra.legit_weight,
        }
    metrics["seconds"] = {"search": fitted.search_seconds, "total": time.perf_counter() - started}
    write_metrics(config.out / "metrics.json", metrics)
    (config.out / "report.md").write_text(render_report(metrics))
    return metrics


def held_out_figures(
    labels: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    legit_weight: float,
    policy: ThresholdPolicy,
    amounts: np.ndarray,
) -> dict[str, Any]:
    """Figures on labelled rows the model never saw: decisions with exact intervals, calibration.

    Legitimate rows count ``legit_weight`` times in precision, calibration and cost.
    """
    weights = _weights(labels, legit_weight)
    result = evaluate(labels, proba, threshold, weights)
    cm = result["confusion_matrix"]
    result["intervals"] = decision_intervals(cm["tp"], cm["fp"], cm["fn"], legit_weight)
    result["calibration"] = calibration_summary(labels, proba, weights)
    if policy.kind == "cost":
        result["expected_cost"] = expected_cost(
            policy, labels, proba, threshold, legit_weight, amounts
        )
    return result


def threshold_policy_record(fitted: Fitted, config: TrainConfig) -> dict[str, Any]:
    """The policy as written to metrics.json and, by convert/, into the model metadata."""
    return {
        **config.policy().describe(),
        "met": fitted.choice.met,
        "chosen_on": (
            f"out-of-fold scores, {len(fitted.out_of_fold.folds)} "
            + ("forward-chaining" if config.split == "step" else "stratified")
            + " folds"
        ),
        "legit_weight": config.legit_weight,
        "probability_correction": config.correction,
    }


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers, for JSON."""
    return value.item() if isinstance(value, np.generic) else value


# --- distributed search on Ray Tune (issue 19) ---
def search_function(config: TrainConfig) -> Any:
    """The search ``config.search`` names: RandomizedSearchCV, or Ray Tune (optional extra)."""
    if config.search == "ray":
        from train.search_ray import run_ray_search

        return functools.partial(run_ray_search, address=config.ray_address)
    return run_search

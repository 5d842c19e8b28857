"""The model: features, optional SMOTE, XGBoost; and the inference pipeline that is exported.

SMOTE is a training-only step: imbalanced-learn's Pipeline applies it in ``fit`` and skips it in
``predict``. The inference pipeline keeps the same fitted feature step and classifier objects, so
it scores exactly as the tuned model does, and it is what joblib saves and convert/ exports.
"""

from __future__ import annotations

from typing import Any, Literal

from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from scipy.stats import loguniform, randint, uniform
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from train.features import PaySimFeatures

Sampler = Literal["smote", "none"]

#: Search space shared by both samplers; ``none`` adds scale_pos_weight.
PARAM_DISTRIBUTIONS: dict[str, Any] = {
    "model__n_estimators": randint(100, 400),
    "model__max_depth": randint(3, 9),
    "model__learning_rate": loguniform(0.03, 0.3),
    "model__subsample": uniform(0.6, 0.4),
    "model__colsample_bytree": uniform(0.6, 0.4),
    "model__min_child_weight": loguniform(1.0, 10.0),
    "model__reg_lambda": loguniform(0.5, 10.0),
}


def param_distributions(sampler: Sampler, imbalance: float) -> dict[str, Any]:
    """The search space; without SMOTE the class weight is searched up to the imbalance ratio."""
    space = dict(PARAM_DISTRIBUTIONS)
    if sampler == "none":
        space["model__scale_pos_weight"] = loguniform(1.0, max(imbalance, 1.0 + 1e-9))
    return space


def build_training_pipeline(
    *,
    feature_set: str = "full",
    sampler: Sampler = "smote",
    smote_ratio: float = 0.1,
    smote_neighbors: int = 5,
    seed: int = 0,
    n_jobs: int = 2,
) -> ImbPipeline:
    """Features -> [SMOTE] -> XGBClassifier, ready for a hyper-parameter search."""
    steps: list[tuple[str, Any]] = [("features", PaySimFeatures(feature_set=feature_set))]
    if sampler == "smote":
        smote = SMOTE(sampling_strategy=smote_ratio, k_neighbors=smote_neighbors, random_state=seed)
        steps.append(("smote", smote))
    elif sampler != "none":
        raise ValueError(f"sampler must be 'smote' or 'none', got {sampler!r}")
    model = XGBClassifier(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="aucpr",
        n_jobs=n_jobs,
        random_state=seed,
    )
    steps.append(("model", model))
    return ImbPipeline(steps)


def smote_neighbors(frauds: int, cv: int, default: int = 5) -> int:
    """SMOTE's k for a training part with ``frauds`` rows split into ``cv`` folds.

    SMOTE needs more minority rows than neighbours in every fold it resamples; small data sets
    get a smaller k instead of an error from deep inside the search.
    """
    per_fold = frauds * (cv - 1) // cv
    if per_fold < 2:
        raise ValueError(
            f"SMOTE needs at least 2 frauds per training fold; the train part has {frauds} "
            f"frauds for {cv} folds: use more data, fewer folds, or --sampler none"
        )
    return max(1, min(default, per_fold - 1))


def inference_pipeline(fitted: ImbPipeline) -> Pipeline:
    """The fitted pipeline without its sampler: raw columns in, probabilities out."""
    return Pipeline(
        [("features", fitted.named_steps["features"]), ("model", fitted.named_steps["model"])]
    )

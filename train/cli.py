"""fraud-train: train and tune a fraud model, then write the artifacts and an honest report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.calibration import CORRECTIONS
from train.features import FEATURE_SETS
from train.folds import FoldError
from train.run import EvalSet, TrainConfig, train_model
from train.search import SCORINGS
from train.split import SplitError
from train.threshold import DEFAULT_CONFIDENCE, PolicyError


def build_parser() -> argparse.ArgumentParser:
    """The command line of fraud-train (also ``python -m train``)."""
    p = argparse.ArgumentParser(
        prog="fraud-train",
        description="Train a SMOTE + XGBoost fraud model tuned with RandomizedSearchCV.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--data",
        default="synthetic:200000",
        help="a PaySim file (.csv, .csv.gz, .parquet), synthetic:N for N generated rows, "
        "or hf:NAME_OR_PATH for a Hugging Face dataset",
    )
    p.add_argument("--out", type=Path, default=Path("artifacts"), help="output directory")
    p.add_argument(
        "--features",
        "--feature-set",
        dest="feature_set",
        choices=sorted(FEATURE_SETS),
        default="full",
        help="full uses post-transaction balances; preauth only what is known before the "
        "transaction executes",
    )
    p.add_argument(
        "--scoring", choices=SCORINGS, default="average_precision", help="search objective"
    )
    p.add_argument("--n-iter", type=int, default=8, help="search candidates")
    p.add_argument("--cv", type=int, default=3, help="stratified folds per candidate")
    p.add_argument(
        "--sampler",
        choices=["smote", "none"],
        default="smote",
        help="smote oversamples frauds; none searches scale_pos_weight instead",
    )
    p.add_argument(
        "--smote-ratio", type=float, default=0.1, help="minority/majority ratio after SMOTE"
    )
    p.add_argument(
        "--split",
        choices=["step", "random"],
        default="step",
        help="step: train on earlier steps, test on later ones",
    )
    p.add_argument("--test-size", type=float, default=0.2, help="share of rows for the test part")
    p.add_argument(
        "--validation-size",
        type=float,
        default=0.2,
        help="step split: where the earlier rows are cut for the split's description only; "
        "the threshold now comes from out-of-fold scores over all rows before the test part",
    )
    p.add_argument(
        "--target-recall",
        type=float,
        default=0.95,
        help="recall the threshold promises (shorthand for --threshold-policy recall:R)",
    )
    # --- threshold policy and probability correction (issue 21) ---
    p.add_argument(
        "--threshold-policy",
        default=None,
        metavar="POLICY",
        help="recall:R (recall lower bound >= R), precision:P (precision lower bound >= P) or "
        "cost:FN_COST,FP_COST (least expected cost); default recall:<--target-recall>",
    )
    p.add_argument(
        "--confidence",
        type=float,
        default=DEFAULT_CONFIDENCE,
        help="confidence of the exact binomial lower bound a recall/precision policy must meet",
    )
    p.add_argument(
        "--cost-per-amount",
        action="store_true",
        help="cost policy: a missed fraud costs FN_COST x its amount; false alarms stay FP_COST",
    )
    p.add_argument(
        "--folds",
        type=int,
        default=4,
        help="out-of-fold folds for the threshold (forward-chaining over steps for a step split)",
    )
    p.add_argument(
        "--correction",
        choices=CORRECTIONS,
        default="prior",
        help="how probabilities are corrected to the served population: prior = log-odds "
        "shift for SMOTE/class weights and --legit-weight folded into base_score; weights = "
        "class weights in training (docs/calibration.md compares them)",
    )
    p.add_argument(
        "--eval-data",
        action="append",
        default=[],
        metavar="SOURCE",
        help="also evaluate on this labelled source (repeatable)",
    )
    p.add_argument(
        "--eval-legit-weight",
        type=float,
        default=1.0,
        help="weight of legitimate rows in --eval-data figures (e.g. 24.3 for the "
        "real PaySim sample, to estimate full-file precision)",
    )
    p.add_argument(
        "--compare-features",
        action="store_true",
        help="also tune every other feature set on the same split and report them side by side",
    )
    p.add_argument(
        "--legit-weight",
        type=float,
        default=1.0,
        help="the data keeps one legitimate row in W of the population served (e.g. 24.3 for "
        "the real PaySim sample): probabilities are corrected to that population, and the "
        "threshold, test figures and calibration weight legitimate rows by W",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2, help="XGBoost threads")
    # --- distributed search on Ray Tune (issue 19) ---
    p.add_argument(
        "--search",
        choices=["random", "ray"],
        default="random",
        help="random: RandomizedSearchCV on this machine; ray: Ray Tune (Optuna TPE + ASHA "
        "early stopping, trials in parallel; pip install 'fraudlite[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --search ray: the Ray cluster (e.g. auto, ray://head:10001); "
        "without it a local Ray instance is started",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run fraud-train; exit 0 on success, 2 on a data or usage problem."""
    args = build_parser().parse_args(argv)
    from train.data import DataError, load_transactions

    config = TrainConfig(
        out=args.out,
        feature_set=args.feature_set,
        scoring=args.scoring,
        n_iter=args.n_iter,
        cv=args.cv,
        sampler=args.sampler,
        smote_ratio=args.smote_ratio,
        split=args.split,
        test_size=args.test_size,
        validation_size=args.validation_size,
        target_recall=args.target_recall,
        seed=args.seed,
        n_jobs=args.n_jobs,
        legit_weight=args.legit_weight,
        compare_feature_sets=args.compare_features,
        threshold_policy=args.threshold_policy,
        confidence=args.confidence,
        cost_per_amount=args.cost_per_amount,
        folds=args.folds,
        correction=args.correction,
        search=args.search,
        ray_address=args.ray_address,
    )
    if args.legit_weight <= 0:
        print("error: --legit-weight must be > 0", file=sys.stderr)
        return 2
    try:
        config.policy()  # a bad --threshold-policy fails before the data is loaded
        loaded = load_transactions(args.data, seed=args.seed, progress=True)
        extra = tuple(
            EvalSet(src, load_transactions(src, seed=args.seed).frame, args.eval_legit_weight)
            for src in args.eval_data
        )
        data_info = {"source": loaded.source, "sha256": loaded.sha256, "rows": len(loaded.frame)}
        metrics = train_model(loaded.frame, config, data_info, extra)
    except (DataError, SplitError, FoldError, PolicyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    test = metrics["test"]
    iv = test["intervals"]
    print(
        f"test PR-AUC {test['pr_auc']:.4f}  ROC-AUC {test['roc_auc']:.4f}  "
        f"precision {test['precision']:.4f} [{iv['precision'][0]:.4f}, {iv['precision'][1]:.4f}]  "
        f"recall {test['recall']:.4f} [{iv['recall'][0]:.4f}, {iv['recall'][1]:.4f}]  "
        f"at threshold {metrics['threshold']:.6f} ({metrics['threshold_policy']['policy']})"
    )
    print(
        f"artifacts written to {config.out}/ (pipeline.joblib, xgb_model.json, metrics.json, "
        "pr_curve.png, reliability.png, report.md)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

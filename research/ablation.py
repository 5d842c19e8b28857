"""Measure what each pre-authorization feature adds: ``python -m research.ablation``.

Features are added one at a time to the pre-transaction raw fields, and one XGBoost model with
fixed parameters is trained per step on the same step split (train + validation parts) and
scored on the test part, so the PR-AUC differences come from the features alone. Candidate
features that the served model does not use are measured too: the merchant flag and
per-account history counted strictly from earlier steps (no look-ahead).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from xgboost import XGBClassifier

from train.evaluate import precision_at_recall, recall_at_precision
from train.features import FEATURE_SETS, compute_features, type_codes
from train.split import split_rows

BASE = (
    "step",
    "amount",
    "oldbalanceOrg",
    "oldbalanceDest",
    *(name for name in FEATURE_SETS["preauth"] if name.startswith("type_")),
)
ADDITIONS = ("amt_ratio_orig", "balanceGapOrig", "emptiesOrig", "destZeroBefore", "hour")
CANDIDATES = ("destIsMerchant", "destPrevCount", "origPrevCount")
PARAMS = {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1, "tree_method": "hist"}


def prior_count(frame: pd.DataFrame, key: str) -> np.ndarray:
    """Transactions involving the same account (``key`` column) at strictly earlier steps."""
    per_step = frame.groupby([key, "step"], sort=True, observed=True).size()
    before = per_step.groupby(level=0).cumsum() - per_step
    index = pd.MultiIndex.from_arrays([frame[key], frame["step"]])
    return before.reindex(index).to_numpy(dtype=np.float32)


def feature_matrix(frame: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """The preauth features ``names`` plus any candidate columns, float32."""
    columns = {
        n: frame[n].to_numpy(np.float32)
        for n in ("step", "amount", "oldbalanceOrg", "oldbalanceDest")
    }
    known = tuple(n for n in names if n not in CANDIDATES)
    X = compute_features(columns, type_codes(frame["type"]), known)
    extra = []
    for name in names:
        if name == "destIsMerchant":
            extra.append(frame["nameDest"].astype(str).str.startswith("M").to_numpy(np.float32))
        elif name == "destPrevCount":
            extra.append(prior_count(frame, "nameDest"))
        elif name == "origPrevCount":
            extra.append(prior_count(frame, "nameOrig"))
    return np.column_stack([X, *extra]) if extra else X


def run(frame: pd.DataFrame, legit_weight: float, seed: int) -> list[dict[str, Any]]:
    """PR-AUC and friends on the test part for each cumulative feature list."""
    split = split_rows(frame, "step", seed=seed)
    fit_rows = np.concatenate([split.train, split.validation])
    y = frame["isFraud"].to_numpy()
    weights = np.where(y[split.test] == 1, 1.0, legit_weight)
    steps: list[tuple[str, tuple[str, ...]]] = [("pre-transaction raw fields", BASE)]
    for name in ADDITIONS:
        steps.append((f"+ {name}", (*steps[-1][1], name)))
    served = steps[-1][1]
    steps += [(f"served preauth + {name}", (*served, name)) for name in CANDIDATES]
    results = []
    for label, names in steps:
        started = time.perf_counter()
        X = feature_matrix(frame, names)
        model = XGBClassifier(**PARAMS, random_state=seed, n_jobs=2)
        model.fit(X[fit_rows], y[fit_rows])
        proba = model.predict_proba(X[split.test])[:, 1]
        row = {
            "step": label,
            "features": list(names),
            "pr_auc": float(average_precision_score(y[split.test], proba, sample_weight=weights)),
            "recall_at_precision_0_9": recall_at_precision(y[split.test], proba, 0.9, weights),
            "precision_at_recall_0_95": precision_at_recall(y[split.test], proba, 0.95, weights),
        }
        results.append(row)
        print(
            f"[ablation] {label:<40} PR-AUC {row['pr_auc']:.4f}  "
            f"({time.perf_counter() - started:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the ablation on each --data source and write the figures as JSON."""
    from train.data import load_transactions

    parser = argparse.ArgumentParser(prog="python -m research.ablation", description=__doc__)
    parser.add_argument("--data", action="append", required=True, metavar="SOURCE")
    parser.add_argument(
        "--legit-weight",
        action="append",
        type=float,
        default=[],
        help="per --data, weight of legitimate rows (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json", type=Path, default=Path("benchmarks/results/preauth_ablation.json")
    )
    args = parser.parse_args(argv)
    weights = args.legit_weight + [1.0] * (len(args.data) - len(args.legit_weight))
    report = {}
    for source, weight in zip(args.data, weights, strict=True):
        frame = load_transactions(source, seed=args.seed, progress=True).frame
        report[source] = {
            "legit_weight": weight,
            "rows": len(frame),
            "steps": run(frame, weight, args.seed),
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

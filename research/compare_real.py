"""Compare the built-in generator with real PaySim rows, side by side, as a Markdown table.

    python -m research.compare_real [--rows 1000000] [--seed 0] [--real PATH]

The real sample over-represents frauds and early steps (see ../shared/data/README.md), so the
table compares shapes within groups (per-type quantiles, balance patterns, how frauds look), not
overall rates. Single-feature ROC-AUCs (fraud vs legitimate among TRANSFER and CASH_OUT rows)
show whether one feature alone separates generated fraud more easily than real fraud.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from service.schema import TRANSACTION_TYPES
from train.data import DataError, load_transactions
from train.features import PaySimFeatures

#: Where CI and the developers keep the real sample: ../shared/data beside the project.
DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared/data/paysim_real_sample.csv.gz"


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Equal money up to float32 rounding: a cent and a half plus a few float32 ulps."""
    return (a - b).abs() < 0.015 + 4e-7 * np.maximum(a.abs(), b.abs())


def _share(mask: pd.Series | np.ndarray) -> float:
    return float(np.mean(mask)) if len(mask) else float("nan")


Row = tuple[str, str, float, str]


def _amounts(legit: pd.DataFrame) -> list[Row]:
    out: list[Row] = []
    mix = legit["type"].value_counts(normalize=True)
    for name in TRANSACTION_TYPES:
        out.append(("type mix (legitimate rows)", name, float(mix.get(name, 0.0)), "pct"))
    for name in TRANSACTION_TYPES:
        amounts = legit.loc[legit["type"] == name, "amount"].astype(float)
        for q in (0.1, 0.5, 0.9, 0.99):
            value = float(amounts.quantile(q)) if len(amounts) else float("nan")
            out.append((f"legit amount: {name}", f"p{round(q * 100)}", value, "money"))
    return out


def _balances(legit: pd.DataFrame) -> list[Row]:
    out: list[Row] = []
    for name in TRANSACTION_TYPES:
        rows = legit[legit["type"] == name]
        amount, old, new = rows["amount"], rows["oldbalanceOrg"], rows["newbalanceOrig"]
        old_dest, new_dest = rows["oldbalanceDest"], rows["newbalanceDest"]
        sign = 1.0 if name == "CASH_IN" else -1.0  # CASH_IN adds to the origin's balance
        patterns = {
            "origin old balance 0": old == 0,
            "origin exact (old ± amount = new)": _same(old + sign * amount, new) & (old > 0),
            "origin floored (amount > old > 0, new 0)": (old > 0)
            & (new == 0)
            & (amount > old)
            & ~_same(amount, old),
            "destination 0 before and after": (old_dest == 0) & (new_dest == 0),
            "destination exact (old ∓ amount = new)": _same(old_dest - sign * amount, new_dest)
            & (old_dest > 0),
        }
        out += [(f"legit balances: {name}", k, _share(v), "pct") for k, v in patterns.items()]
    return out


def _frauds(frame: pd.DataFrame) -> list[Row]:
    fraud = frame[frame["isFraud"] == 1]
    out: list[Row] = []
    for name in ("TRANSFER", "CASH_OUT"):
        out.append(("fraud rows", f"share that are {name}", _share(fraud["type"] == name), "pct"))
    for name in ("TRANSFER", "CASH_OUT"):
        rows = fraud[fraud["type"] == name]
        section = f"fraud {name}"
        emptied = _same(rows["amount"], rows["oldbalanceOrg"]) & (rows["newbalanceOrig"] == 0)
        dest_zero = (rows["oldbalanceDest"] == 0) & (rows["newbalanceDest"] == 0)
        out.append((section, "empties origin (amount = old, new 0)", _share(emptied), "pct"))
        out.append((section, "amount = 10,000,000 (cap)", _share(rows["amount"] == 1e7), "pct"))
        out.append((section, "destination 0 before and after", _share(dest_zero), "pct"))
        for q in (0.1, 0.5, 0.9):
            value = float(rows["amount"].quantile(q))
            out.append((section, f"amount p{round(q * 100)}", value, "money"))
    transfers = max(1, int((fraud["type"] == "TRANSFER").sum()))
    flagged = 1000 * float(frame["isFlaggedFraud"].sum()) / transfers
    out.append(("flags", "isFlaggedFraud per 1,000 fraud TRANSFERs", flagged, "num"))
    return out


def _time(frame: pd.DataFrame) -> list[Row]:
    # Day 1 is left out: real PaySim starts busy at night, and the real sample over-represents it.
    later = frame[frame["step"] > 24]
    night = ((later["step"] % 24 >= 3) & (later["step"] % 24 <= 8)).to_numpy()
    fraud = (later["isFraud"] == 1).to_numpy()
    steps = frame.loc[frame["isFraud"] == 1, "step"]
    return [
        ("time", "legit rows at 03:00-08:59 (after day 1)", _share(night[~fraud]), "pct"),
        ("time", "fraud rows at 03:00-08:59 (after day 1)", _share(night[fraud]), "pct"),
        ("time", "fraud rows in steps 409-744 (quiet days)", _share(steps >= 409), "pct"),
    ]


def _rows(frame: pd.DataFrame) -> list[Row]:
    """(section, metric, value, format) rows describing one frame."""
    legit = frame[frame["isFraud"] == 0]
    return [
        *_amounts(legit),
        *_balances(legit),
        *_frauds(frame),
        *_time(frame),
        *_single_feature_auc(frame),
    ]


def _single_feature_auc(frame: pd.DataFrame) -> list[tuple[str, str, float, str]]:
    """ROC-AUC of each model feature alone, max(auc, 1 - auc), on TRANSFER and CASH_OUT rows."""
    from sklearn.metrics import roc_auc_score

    rows = frame[frame["type"].isin(["TRANSFER", "CASH_OUT"])]
    features = PaySimFeatures().fit(rows)
    matrix = features.transform(rows)
    labels = rows["isFraud"].to_numpy()
    out = []
    for index, name in enumerate(features.get_feature_names_out()):
        if name.startswith("type_"):
            continue
        auc = roc_auc_score(labels, matrix[:, index])
        out.append(
            ("single-feature ROC-AUC (TRANSFER+CASH_OUT)", str(name), max(auc, 1 - auc), "num")
        )
    return out


def _fmt(value: float, kind: str) -> str:
    if np.isnan(value):
        return "-"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def table(generated: pd.DataFrame, real: pd.DataFrame) -> str:
    """The Markdown comparison table of two PaySim frames."""
    lines = ["| section | metric | generated | real |", "|---|---|---:|---:|"]
    previous = None
    for (section, metric, gen, kind), (_, _, ref, _) in zip(
        _rows(generated), _rows(real), strict=True
    ):
        shown = section if section != previous else ""
        previous = section
        lines.append(f"| {shown} | {metric} | {_fmt(gen, kind)} | {_fmt(ref, kind)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the comparison table; exit 2 if the real sample cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m research.compare_real", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated rows (1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (0)")
    parser.add_argument("--real", default=str(DEFAULT_REAL), help="real PaySim file")
    args = parser.parse_args(argv)
    try:
        real = load_transactions(args.real).frame
        generated = load_transactions(f"synthetic:{args.rows}", seed=args.seed).frame
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"generated: synthetic:{args.rows} (seed {args.seed}); real: {args.real}\n")
    print(table(generated, real))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``fraud-retrain-gate``: may a retrained model replace the production one?

Both ONNX models score the same held-out rows: the test part of ``--data`` under the split
fraud-train uses (by default the latest steps, which the candidate never trained on). The
candidate passes when

* its PR-AUC is not lower than the current model's by more than ``--tolerance``, and
* its recall at its own threshold (the one it will decide with in production) is at least
  ``--target-recall``.

Without ``--current`` (the first deployment) only the recall gate applies, and the report says
so. ``--legit-weight`` weights legitimate rows as fraud-train's ``--eval-legit-weight`` does (the
real PaySim sample keeps every fraud but 1 in 24.3 legitimate rows).

Exit 0 when the candidate passes, 1 when a gate fails, 2 for usage or data errors. ``--json``
writes every figure and the decision; ``--markdown`` a table for a pull request or a job summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "model.onnx"
DEFAULT_TOLERANCE = 0.01
DEFAULT_TARGET_RECALL = 0.90


class GateInputError(ValueError):
    """A model or data source that cannot be used (exit 2)."""


@dataclass(frozen=True)
class ModelFigures:
    """One model on the held-out rows."""

    path: str
    model_version: str
    threshold: float
    pr_auc: float
    roc_auc: float
    precision: float
    recall: float
    flagged: int


@dataclass(frozen=True)
class GateResult:
    """The decision, the reasons and the figures behind them."""

    passed: bool
    reasons: list[str]
    rows: int
    frauds: int
    data: str
    tolerance: float
    target_recall: float
    candidate: ModelFigures
    current: ModelFigures | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["pr_auc_change"] = (
            None if self.current is None else self.candidate.pr_auc - self.current.pr_auc
        )
        return out


def model_file(path: Path) -> Path:
    """``path`` itself when it is a file, else ``path/model.onnx``."""
    candidate = path / MODEL_FILE if path.is_dir() else path
    if not candidate.is_file():
        raise GateInputError(f"no model at {candidate}")
    return candidate


def held_out(source: str, split: str, test_size: float, seed: int):
    """The test part of ``source`` as fraud-train splits it: (frame, labels)."""
    from train.data import DataError, load_transactions
    from train.split import SplitError, split_rows

    try:
        frame = load_transactions(source, seed=seed, progress=True).frame
        parts = split_rows(frame, split, test_size=test_size, seed=seed)
    except (DataError, SplitError) as exc:
        raise GateInputError(str(exc)) from exc
    test = frame.iloc[parts.test]
    labels = test["isFraud"].to_numpy()
    if labels.sum() == 0:
        raise GateInputError(f"the held-out part of {source} has no fraud rows")
    return test, labels


def score(path: Path, frame) -> tuple[np.ndarray, float, str]:
    """(probabilities, threshold, model_version) of the ONNX model at ``path`` on ``frame``."""
    from convert.errors import ParityInputError
    from convert.parity import make_session, onnx_feed, session_threshold

    try:
        session = make_session(str(path))
        names = [i.name for i in session.get_inputs() if i.name != "explain"]
        feed = onnx_feed(frame, names)
        threshold = session_threshold(session)
    except ParityInputError as exc:
        raise GateInputError(f"{path}: {exc}") from exc
    except Exception as exc:  # onnxruntime raises its own untyped errors for unloadable files
        raise GateInputError(f"{path}: not a loadable ONNX model ({type(exc).__name__})") from exc
    (probability,) = session.run(["probability"], feed)
    version = session.get_modelmeta().custom_metadata_map.get("model_version", "unknown")
    return probability.astype(np.float64), threshold, version


def figures(path: Path, frame, labels: np.ndarray, weights: np.ndarray | None) -> ModelFigures:
    """The model's ranking metrics and its decisions at its own threshold."""
    from train.evaluate import evaluate

    probability, threshold, version = score(path, frame)
    found = evaluate(labels, probability, threshold, weights)
    return ModelFigures(
        str(path),
        version,
        threshold,
        found["pr_auc"],
        found["roc_auc"],
        found["precision"],
        found["recall"],
        found["flagged"],
    )


def decide(
    candidate: ModelFigures,
    current: ModelFigures | None,
    tolerance: float,
    target_recall: float,
) -> tuple[bool, list[str]]:
    """Apply both gates; the reasons name each gate with its figures, passed or not."""
    reasons = []
    ok = True
    if current is None:
        reasons.append("no production model given: PR-AUC comparison skipped")
    else:
        floor = current.pr_auc - tolerance
        held = candidate.pr_auc >= floor
        ok &= held
        reasons.append(
            f"PR-AUC {candidate.pr_auc:.4f} vs production {current.pr_auc:.4f}: "
            f"{'within' if held else 'below'} the allowed floor {floor:.4f} "
            f"(tolerance {tolerance:g})"
        )
    enough = candidate.recall >= target_recall
    ok &= enough
    reasons.append(
        f"recall at threshold {candidate.threshold:.4g}: {candidate.recall:.4f} "
        f"{'>=' if enough else '<'} target {target_recall:g}"
    )
    return ok, reasons


def run_gate(
    candidate: Path,
    current: Path | None,
    data: str,
    *,
    split: str = "step",
    test_size: float = 0.2,
    seed: int = 0,
    legit_weight: float = 1.0,
    tolerance: float = DEFAULT_TOLERANCE,
    target_recall: float = DEFAULT_TARGET_RECALL,
) -> GateResult:
    """Score both models on the same held-out rows of ``data`` and decide."""
    candidate_file = model_file(candidate)
    current_file = model_file(current) if current is not None else None
    frame, labels = held_out(data, split, test_size, seed)
    weights = np.where(labels == 1, 1.0, legit_weight) if legit_weight != 1.0 else None
    cand = figures(candidate_file, frame, labels, weights)
    prod = figures(current_file, frame, labels, weights) if current_file else None
    passed, reasons = decide(cand, prod, tolerance, target_recall)
    return GateResult(
        passed,
        reasons,
        int(labels.size),
        int(labels.sum()),
        data,
        tolerance,
        target_recall,
        cand,
        prod,
    )


def markdown(result: GateResult) -> str:
    """A short markdown report: the decision, the reasons, both models side by side."""
    verdict = "PASSED" if result.passed else "FAILED"
    lines = [
        f"### Retrain gate: {verdict}",
        "",
        f"Held-out rows: {result.rows:,} ({result.frauds:,} frauds) from `{result.data}`.",
        "",
        *(f"- {reason}" for reason in result.reasons),
        "",
        "| model | version | PR-AUC | ROC-AUC | threshold | precision | recall | flagged |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for role, m in (("candidate", result.candidate), ("production", result.current)):
        if m is not None:
            lines.append(
                f"| {role} | `{m.model_version}` | {m.pr_auc:.4f} | {m.roc_auc:.4f} | "
                f"{m.threshold:.4g} | {m.precision:.4f} | {m.recall:.4f} | {m.flagged:,} |"
            )
    return "\n".join(lines) + "\n"


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fraud-retrain-gate",
        description="Compare a retrained model with the production one on the same held-out "
        "rows; exit 0 when it may replace it, 1 when a gate fails, 2 for usage errors.",
    )
    p.add_argument("--candidate", type=Path, required=True, help="new model.onnx or its dir")
    p.add_argument(
        "--current", type=Path, help="production model.onnx or its dir (omit for the first model)"
    )
    p.add_argument(
        "--data", required=True, help="rows to split as fraud-train does (file, synthetic:N, hf:)"
    )
    p.add_argument("--split", choices=("step", "random"), default="step")
    p.add_argument("--test-size", type=_fraction, default=0.2, help="held-out share (0.2)")
    p.add_argument("--seed", type=int, default=0, help="as given to fraud-train (0)")
    p.add_argument(
        "--legit-weight", type=_positive, default=1.0, help="weight of legitimate rows (1)"
    )
    p.add_argument(
        "--tolerance",
        type=_fraction,
        default=DEFAULT_TOLERANCE,
        help=f"PR-AUC the candidate may lose against production ({DEFAULT_TOLERANCE})",
    )
    p.add_argument(
        "--target-recall",
        type=_fraction,
        default=DEFAULT_TARGET_RECALL,
        help=f"least recall at the candidate's threshold ({DEFAULT_TARGET_RECALL})",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="write the figures and decision")
    p.add_argument("--markdown", type=Path, metavar="OUT", help="write a markdown report")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate; exit 0 pass, 1 fail, 2 usage or data errors."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        result = run_gate(
            args.candidate,
            args.current,
            args.data,
            split=args.split,
            test_size=args.test_size,
            seed=args.seed,
            legit_weight=args.legit_weight,
            tolerance=args.tolerance,
            target_recall=args.target_recall,
        )
    except GateInputError as exc:
        print(f"fraud-retrain-gate: error: {exc}", file=sys.stderr)
        return 2
    report = markdown(result)
    print(report, end="")
    print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    for path, text in (
        (args.json, json.dumps(result.as_json(), indent=2) + "\n"),
        (args.markdown, report),
    ):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())

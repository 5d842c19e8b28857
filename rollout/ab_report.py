"""``fraud-ab-report DECISION_LOG [--labels FILE] [--json]``: compare the arms of an A/B split.

Reads the service's decision log (JSON lines; each decision names its ``arm``, ``model_version``,
``transaction_id`` and ``is_fraud``; other lines are skipped, so a whole CloudWatch export or
``fraud-serve`` output can be given as is). Per arm: decisions, distinct transactions, flag rate
with a 95% Wilson interval. With ``--labels`` (a CSV with ``transaction_id`` and ``isFraud``):
precision and recall per arm with 95% Wilson intervals, on the labelled transactions (the last
decision per transaction counts). A file name of ``-`` reads standard input.

Exit status: 0 report written, 2 unreadable input or no A/B decisions in the log.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


class ReportError(ValueError):
    """The inputs cannot be read as a decision log or labels; the message says why."""


@dataclass(frozen=True)
class Decision:
    arm: str
    model_version: str
    transaction_id: str | None
    is_fraud: bool
    probability: float | None


@dataclass
class ArmStats:
    """One arm's decisions, and (with labels) its confusion counts."""

    arm: str
    versions: set[str] = field(default_factory=set)
    decisions: int = 0
    flagged: int = 0
    last: dict[str, bool] = field(default_factory=dict)  # transaction_id -> last decision

    def add(self, d: Decision) -> None:
        self.versions.add(d.model_version)
        self.decisions += 1
        self.flagged += d.is_fraud
        if d.transaction_id is not None:
            self.last[d.transaction_id] = d.is_fraud


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion; None when ``total`` is 0."""
    if total <= 0:
        return None
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def read_decisions(lines: Iterable[str]) -> Iterator[Decision]:
    """Decisions of an A/B split in a log: JSON objects (after any prefix such as a CloudWatch
    timestamp) with an ``arm``; a record may also hold a list of them under ``decisions``."""
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        nested = record.get("decisions")
        items = nested if isinstance(nested, list) else [record]
        for item in items:
            decision = _decision(item, record)
            if decision is not None:
                yield decision


def _decision(item: Any, record: dict[str, Any]) -> Decision | None:
    if not isinstance(item, dict):
        return None
    arm = item.get("arm", record.get("arm"))
    flag = item.get("is_fraud", item.get("decision"))
    if not isinstance(arm, str) or not isinstance(flag, bool | int):
        return None
    tx = item.get("transaction_id")
    probability = item.get("probability_fraud", item.get("probability"))
    return Decision(
        arm=arm,
        # arm_model_version: the model that decided this row (a batch record's model_version is
        # the primary's when its rows went to both arms; service/rollout/ab.py).
        model_version=str(
            item.get("arm_model_version")
            or item.get("model_version", record.get("model_version", "?"))
        ),
        transaction_id=None if tx is None else str(tx),
        is_fraud=bool(flag),
        probability=float(probability) if isinstance(probability, int | float) else None,
    )


def read_labels(stream: TextIO) -> dict[str, bool]:
    """``transaction_id -> isFraud`` from a CSV with those two columns (others ignored)."""
    reader = csv.DictReader(stream)
    fields = set(reader.fieldnames or ())
    if not {"transaction_id", "isFraud"} <= fields:
        raise ReportError(
            f"labels need columns transaction_id and isFraud, found {sorted(fields) or 'none'}"
        )
    labels = {}
    for number, row in enumerate(reader, start=2):
        value = (row["isFraud"] or "").strip().lower()
        if value not in ("0", "1", "true", "false"):
            raise ReportError(f"labels line {number}: isFraud must be 0 or 1, got {value!r}")
        labels[str(row["transaction_id"]).strip()] = value in ("1", "true")
    return labels


def compare(decisions: Iterable[Decision], labels: dict[str, bool] | None = None) -> dict[str, Any]:
    """The report as a dictionary: one entry per arm, sorted by arm name."""
    arms: dict[str, ArmStats] = {}
    for d in decisions:
        arms.setdefault(d.arm, ArmStats(d.arm)).add(d)
    if not arms:
        raise ReportError("no A/B decisions in the log (records with an 'arm' and 'is_fraud')")
    total = sum(a.decisions for a in arms.values())
    out: dict[str, Any] = {"decisions": total, "arms": []}
    for stats in sorted(arms.values(), key=lambda s: s.arm):
        entry: dict[str, Any] = {
            "arm": stats.arm,
            "model_versions": sorted(stats.versions),
            "decisions": stats.decisions,
            "share": stats.decisions / total,
            "transactions": len(stats.last),
            "flagged": stats.flagged,
            "flag_rate": stats.flagged / stats.decisions,
            "flag_rate_ci95": wilson(stats.flagged, stats.decisions),
        }
        if labels is not None:
            entry.update(_labelled(stats, labels))
        out["arms"].append(entry)
    if labels is not None:
        out["labels"] = len(labels)
    return out


def _labelled(stats: ArmStats, labels: dict[str, bool]) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    for tx, flagged in stats.last.items():
        if tx not in labels:
            continue
        fraud = labels[tx]
        tp += flagged and fraud
        fp += flagged and not fraud
        fn += fraud and not flagged
        tn += not fraud and not flagged
    return {
        "labelled": tp + fp + fn + tn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "precision_ci95": wilson(tp, tp + fp),
        "recall": tp / (tp + fn) if tp + fn else None,
        "recall_ci95": wilson(tp, tp + fn),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a Markdown table (one row per arm)."""
    labelled = "labels" in report
    header = ["arm", "model_version", "decisions", "share", "flagged", "flag rate (95% CI)"]
    if labelled:
        header += ["labelled", "TP", "FP", "FN", "precision (95% CI)", "recall (95% CI)"]
    rows = [header, ["---"] * len(header)]
    for arm in report["arms"]:
        row = [
            arm["arm"],
            ", ".join(arm["model_versions"]),
            f"{arm['decisions']:,}",
            f"{arm['share']:.1%}",
            f"{arm['flagged']:,}",
            _rate(arm["flag_rate"], arm["flag_rate_ci95"]),
        ]
        if labelled:
            row += [
                f"{arm['labelled']:,}",
                *(f"{arm[k]:,}" for k in ("tp", "fp", "fn")),
                _rate(arm["precision"], arm["precision_ci95"]),
                _rate(arm["recall"], arm["recall_ci95"]),
            ]
        rows.append(row)
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    footer = f"{report['decisions']:,} A/B decisions"
    if labelled:
        footer += f"; {report['labels']:,} labels"
    return "\n".join([*lines, "", footer])


def _rate(value: float | None, ci: Sequence[float] | None) -> str:
    if value is None or ci is None:
        return "-"
    return f"{value:.2%} ({ci[0]:.2%}-{ci[1]:.2%})"


def _open_text(name: str) -> TextIO:
    if name == "-":
        return sys.stdin
    path = Path(name)
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path), encoding="utf-8", errors="replace")
        return path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ReportError(f"cannot read {name}: {exc.strerror or exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-ab-report",
        description="Compare the arms of an A/B split from the service's decision log: counts "
        "and flag rates, and with --labels precision and recall per arm (95%% Wilson intervals).",
    )
    parser.add_argument("decision_log", metavar="DECISION_LOG", help="JSON lines (.gz ok, - stdin)")
    parser.add_argument("--labels", metavar="FILE", help="CSV with transaction_id,isFraud")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; exit 0, or 2 when the inputs cannot be used."""
    args = build_parser().parse_args(argv)
    try:
        labels = None
        if args.labels:
            with _open_text(args.labels) as stream:
                labels = read_labels(stream)
        with _open_text(args.decision_log) as stream:
            report = compare(read_decisions(stream), labels)
    except ReportError as exc:
        print(f"fraud-ab-report: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Threshold policies on hand-made scores, and the exact bounds they rest on (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from train.intervals import decision_intervals, interval, lower_bound, weighted_precision
from train.threshold import (
    PolicyError,
    choose,
    expected_cost,
    parse_policy,
    threshold_curve,
)

# Five frauds and five legitimate rows, one score each, highest first:
#   0.9 F, 0.8 F, 0.7 F, 0.6 F, 0.5 L, 0.4 F, 0.3 L, 0.2 L, 0.1 L, 0.05 L
Y = np.array([1, 1, 1, 1, 0, 1, 0, 0, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05], dtype=np.float32)


def f32(x: float) -> float:
    return float(np.float32(x))


@pytest.mark.parametrize(("k", "n"), [(4, 5), (61, 62), (1, 30), (95, 100)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_lower_bound_is_the_clopper_pearson_bound(k: int, n: int, confidence: float) -> None:
    # The exact bound is the proportion at which k or more successes have probability 1 - C.
    low = float(lower_bound(k, n, confidence))
    assert binom.sf(k - 1, n, low) == pytest.approx(1 - confidence, rel=1e-6)
    assert low < k / n


def test_lower_bound_edges() -> None:
    assert float(lower_bound(0, 10, 0.9)) == 0.0
    assert float(lower_bound(3, 0, 0.9)) == 0.0
    # All n caught: the bound solves p**n = 1 - C.
    assert float(lower_bound(45, 45, 0.9)) == pytest.approx(0.1 ** (1 / 45))
    with pytest.raises(ValueError):
        lower_bound(1, 2, 1.0)


def test_two_sided_interval_contains_the_estimate_and_narrows_with_data() -> None:
    small, large = interval(9, 10), interval(900, 1000)
    assert small[0] < 0.9 < small[1] and large[0] < 0.9 < large[1]
    assert large[1] - large[0] < small[1] - small[0]


def test_weighted_precision_counts_each_legitimate_row_w_times() -> None:
    # 3 frauds and 1 legitimate row flagged; with W=24.3 that row stands for 24.3 rows.
    assert float(weighted_precision(0.75, 24.3)) == pytest.approx(3 / (3 + 24.3))
    intervals = decision_intervals(tp=3, fp=1, fn=1, legit_weight=24.3)
    unweighted = decision_intervals(tp=3, fp=1, fn=1)
    assert intervals["recall"] == unweighted["recall"]  # recall involves frauds only
    assert intervals["precision"][1] < unweighted["precision"][1]
    low, high = intervals["precision"]
    assert low < 3 / 27.3 < high


def test_curve_counts_every_distinct_score() -> None:
    curve = threshold_curve(Y, S)
    assert curve.thresholds[0] > 0.9  # "flag nothing" first
    assert list(curve.thresholds[1:]) == [float(s) for s in S]
    assert list(curve.tp) == [0, 1, 2, 3, 4, 4, 5, 5, 5, 5, 5]
    assert list(curve.fp) == [0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5]
    # Tied scores are one candidate: both rows are flagged together or not at all.
    tied = threshold_curve(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.2], dtype=np.float32))
    assert list(tied.tp) == [0, 1, 2] and list(tied.fp) == [0, 1, 1]


def test_recall_policy_keeps_its_promise_with_confidence() -> None:
    # Point estimate: 4/5 at 0.6 reaches recall 0.6. The 90% lower bound of 4/5 is 0.42,
    # of 5/5 is 0.1**(1/5) = 0.63: only flagging all five frauds keeps recall >= 0.6.
    choice = choose(parse_policy("recall:0.6", confidence=0.9), Y, S)
    assert choice.threshold == f32(0.4) and choice.met
    assert choice.figures["recall"] == 1.0
    assert choice.figures["recall_lower_bound"] == pytest.approx(0.1 ** (1 / 5))
    # At 50% confidence 4/5 is enough; among 0.6 and lower, 0.6 has the best precision (1.0).
    assert choose(parse_policy("recall:0.6", confidence=0.5), Y, S).threshold == f32(0.6)


def test_recall_policy_falls_back_to_the_point_estimate_when_the_bound_is_out_of_reach() -> None:
    # Five frauds cannot prove recall 0.95 at 90% (0.1**(1/5) = 0.63): the point rule is used.
    choice = choose(parse_policy("recall:0.95"), Y, S)
    assert not choice.met and choice.threshold == f32(0.4)


def test_precision_policy_takes_the_best_recall_whose_bound_holds() -> None:
    # 90% lower bounds of precision: 4/4 at 0.6 -> 0.56; 5/6 at 0.4 -> 0.49.
    choice = choose(parse_policy("precision:0.55"), Y, S)
    assert choice.met and choice.threshold == f32(0.6)
    assert choice.figures["precision_lower_bound"] == pytest.approx(0.1 ** (1 / 4))
    assert choose(parse_policy("precision:0.45"), Y, S).threshold == f32(0.4)


def test_precision_policy_weights_legitimate_rows() -> None:
    # With W=2 no bound reaches 0.55; point estimates: 0.4 -> 5/7, 0.3 -> 5/9 = 0.556 both
    # reach it with recall 1: the higher threshold is taken, and the promise is marked unmet.
    choice = choose(parse_policy("precision:0.55"), Y, S, legit_weight=2.0)
    assert not choice.met and choice.threshold == f32(0.4)
    assert choice.figures["precision"] == pytest.approx(5 / 7)


@pytest.mark.parametrize(
    ("spec", "legit_weight", "expected", "cost"),
    [
        ("cost:10,1", 1.0, 0.4, 1.0),  # every fraud is worth one false alarm
        ("cost:1,1", 1.0, 0.6, 1.0),  # 0.6 and 0.4 both cost 1: the higher one
        ("cost:1,10", 1.0, 0.6, 1.0),  # false alarms dear: miss the fraud at 0.4
        ("cost:10,1", 20.0, 0.6, 10.0),  # a false alarm stands for 20 rows: 20 > 10
        ("cost:0,1", 1.0, None, 0.0),  # frauds free: flag nothing
    ],
)
def test_cost_policy_minimises_expected_cost(spec, legit_weight, expected, cost) -> None:
    choice = choose(parse_policy(spec), Y, S, legit_weight=legit_weight)
    if expected is None:
        assert choice.threshold > 0.9 and choice.figures["tp"] == 0
    else:
        assert choice.threshold == f32(expected)
    assert choice.figures["expected_cost"] == pytest.approx(cost)
    assert expected_cost(parse_policy(spec), Y, S, choice.threshold, legit_weight) == pytest.approx(
        cost
    )


def test_cost_per_amount_weighs_a_missed_fraud_by_its_amount() -> None:
    amounts = np.array([10.0, 10, 10, 10, 5, 1000, 5, 5, 5, 5])
    fixed = choose(parse_policy("cost:1,100"), Y, S, amounts=amounts)
    assert fixed.threshold == f32(0.6)  # missing one fraud (1) beats a false alarm (100)
    per_amount = choose(parse_policy("cost:1,100", per_amount=True), Y, S, amounts=amounts)
    assert per_amount.threshold == f32(0.4)  # that fraud moves 1000: the false alarm is cheaper
    assert per_amount.figures["expected_cost"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    "text",
    ["recall", "recall:1.5", "recall:0", "precision:x", "cost:1", "cost:-1,2", "cost:0,0", "f1:1"],
)
def test_bad_policies_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy(text)


def test_per_amount_needs_a_cost_policy_and_confidence_a_probability() -> None:
    with pytest.raises(PolicyError, match="cost"):
        parse_policy("recall:0.9", per_amount=True)
    with pytest.raises(PolicyError, match="confidence"):
        parse_policy("recall:0.9", confidence=1.0)
    assert parse_policy("cost:5,1").describe() == {
        "policy": "cost:5,1",
        "kind": "cost",
        "fn_cost": 5.0,
        "fp_cost": 1.0,
        "per_amount": False,
    }


def test_cli_documents_the_policy_options(capsys) -> None:
    from train.cli import main as train_main

    with pytest.raises(SystemExit):
        train_main(["--help"])
    text = capsys.readouterr().out
    for option in (
        "--threshold-policy",
        "--confidence",
        "--cost-per-amount",
        "--folds",
        "--correction",
    ):
        assert option in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold-policy", "recall:2"], "the target must be in (0, 1]"),
        (["--threshold-policy", "f1:0.5"], "unknown threshold policy kind"),
        (["--cost-per-amount"], "--cost-per-amount applies to a cost"),
        (["--confidence", "1.5"], "--confidence must be in (0, 1)"),
        (["--legit-weight", "0"], "--legit-weight must be > 0"),
    ],
)
def test_cli_refuses_a_bad_policy_before_loading_data(tmp_path, capsys, args, message) -> None:
    from train.cli import main as train_main

    # The data source does not exist: the policy must be refused first, with exit 2.
    code = train_main(["--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err

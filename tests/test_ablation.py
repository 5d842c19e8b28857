"""The preauth ablation: history counts never look ahead, and a small run reports every step."""

from __future__ import annotations

import pandas as pd

from research.ablation import ADDITIONS, CANDIDATES, prior_count, run
from train import synthetic


def test_prior_count_only_counts_strictly_earlier_steps() -> None:
    frame = pd.DataFrame({"nameDest": ["C1", "C1", "C2", "C1", "C1"], "step": [1, 1, 1, 2, 5]})
    # Two transactions at step 1 do not see each other; step 2 sees both, step 5 sees three.
    assert prior_count(frame, "nameDest").tolist() == [0, 0, 0, 2, 3]


def test_prior_count_ignores_row_order() -> None:
    frame = pd.DataFrame({"nameOrig": ["A", "A", "A"], "step": [7, 3, 5]})
    assert prior_count(frame, "nameOrig").tolist() == [2, 0, 1]


def test_small_run_measures_each_addition_and_candidate() -> None:
    results = run(synthetic.generate(30_000, seed=2), legit_weight=1.0, seed=2)
    assert len(results) == 1 + len(ADDITIONS) + len(CANDIDATES)
    assert results[1]["features"][-1] == ADDITIONS[0]
    for row in results:
        assert 0.0 < row["pr_auc"] <= 1.0
        assert "newbalanceOrig" not in row["features"]

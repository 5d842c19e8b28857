"""Properties of the built-in PaySim-like generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from service.schema import PAYSIM_COLUMNS, TRANSACTION_TYPES
from train import synthetic_profile as profile
from train.data import load_transactions
from train.data_cli import main as data_main
from train.features import PaySimFeatures
from train.synthetic import _fraud, generate

ROWS = 100_000
CAP = profile.TRANSFER_CAP


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(ROWS, seed=0)


@pytest.fixture(scope="module")
def fraud(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["isFraud"] == 1]


@pytest.fixture(scope="module")
def legit(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["isFraud"] == 0]


def test_shape_dtypes_and_order(frame: pd.DataFrame) -> None:
    assert len(frame) == ROWS
    assert tuple(frame.columns) == PAYSIM_COLUMNS
    assert tuple(frame["type"].cat.categories) == TRANSACTION_TYPES
    assert frame["step"].dtype == np.int32 and frame["amount"].dtype == np.float32
    assert frame["isFraud"].dtype == np.int8 and frame["isFlaggedFraud"].dtype == np.int8
    assert frame["step"].is_monotonic_increasing  # like the Kaggle file: sorted by step
    assert frame["step"].between(1, 744).all()
    money = ["amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"]
    assert (frame[money].to_numpy() >= 0).all()
    assert frame["amount"].gt(0).all()


def test_type_mix_matches_paysim(legit: pd.DataFrame) -> None:
    mix = legit["type"].value_counts(normalize=True)
    expected = {"CASH_OUT": 0.35, "PAYMENT": 0.34, "CASH_IN": 0.22, "TRANSFER": 0.083}
    for name, share in expected.items():
        assert mix[name] == pytest.approx(share, abs=0.01), name
    assert mix["DEBIT"] == pytest.approx(0.0065, abs=0.002)


def test_fraud_rate_is_near_paysim(fraud: pd.DataFrame) -> None:
    assert 0.0010 <= len(fraud) / ROWS <= 0.0014


def test_fraud_only_in_transfer_and_cash_out(fraud: pd.DataFrame) -> None:
    assert set(fraud["type"]) == {"TRANSFER", "CASH_OUT"}
    counts = fraud["type"].value_counts()
    assert counts["TRANSFER"] == counts["CASH_OUT"]


def test_each_fraud_transfer_is_cashed_out_by_the_mule(fraud: pd.DataFrame) -> None:
    transfers = fraud[fraud["type"] == "TRANSFER"]
    cash_outs = fraud[fraud["type"] == "CASH_OUT"]
    pairs = transfers.merge(
        cash_outs,
        left_on=["step", "amount", "nameDest"],
        right_on=["step", "amount", "nameOrig"],
        suffixes=("_t", "_c"),
    )
    assert len(pairs) == len(transfers) == len(cash_outs)
    # The mule's account shows nothing before and after the TRANSFER (PaySim's quirk) ...
    assert (pairs["oldbalanceDest_t"] == 0).mean() > 0.95
    # ... and the mule's CASH_OUT empties exactly what it received.
    assert (pairs["oldbalanceOrg_c"] == pairs["amount"]).all()
    assert (pairs["newbalanceOrig_c"] == 0).all()


def test_fraud_transfers_empty_the_victim_in_capped_transfers(fraud: pd.DataFrame) -> None:
    transfers = fraud[fraud["type"] == "TRANSFER"]
    assert (transfers["amount"] <= CAP).all()
    emptied = (transfers["amount"] == transfers["oldbalanceOrg"]) & (
        transfers["newbalanceOrig"] == 0
    )
    assert emptied.mean() > 0.9


def test_large_balances_are_moved_in_10m_transfers() -> None:
    rows = pd.DataFrame({k: v for k, v in _fraud(np.random.default_rng(3), 20_000).items()})
    transfers = rows[rows["type"] == profile.TRANSFER]
    capped = transfers[transfers["amount"] == CAP]
    assert 0.02 < len(capped) / len(transfers) < 0.06
    moved = capped[capped["isFlaggedFraud"] == 0]
    assert np.allclose(moved["oldbalanceOrg"] - moved["newbalanceOrig"], CAP)
    # Chunks of one victim: balances step down by 10M until the remainder is taken.
    victim = capped["orig"].iloc[0]
    chunks = transfers[transfers["orig"] == victim].sort_values("sub")
    assert np.allclose(np.diff(chunks["oldbalanceOrg"]), -CAP)
    assert chunks["amount"].iloc[-1] == chunks["oldbalanceOrg"].iloc[-1] <= CAP
    assert len(rows) <= 20_000


def test_flagged_fraud_follows_paysims_rule(frame: pd.DataFrame) -> None:
    rows = pd.DataFrame(_fraud(np.random.default_rng(5), 40_000))
    flagged = rows[rows["isFlaggedFraud"] == 1]
    assert 0 < len(flagged) < 0.01 * len(rows)
    assert (flagged["type"] == profile.TRANSFER).all()
    assert (flagged["amount"] > 200_000).all()
    assert (flagged["newbalanceOrig"] == flagged["oldbalanceOrg"]).all()  # halted
    flagged_in_frame = frame[frame["isFlaggedFraud"] == 1]
    assert (flagged_in_frame["isFraud"] == 1).all()


def test_frauds_spread_over_all_steps_while_legit_activity_sleeps(
    frame: pd.DataFrame, fraud: pd.DataFrame, legit: pd.DataFrame
) -> None:
    assert fraud["step"].min() < 100 and fraud["step"].max() > 650
    assert 0.3 < (fraud["step"] > 372).mean() < 0.7
    hour = legit["step"] % 24
    assert hour.between(3, 8).mean() < 0.01  # the night is quiet for legitimate customers
    assert 0.1 < (fraud["step"] % 24).between(3, 8).mean() < 0.4
    # Real PaySim's volume drops after day 17; frauds do not.
    assert (legit["step"] >= profile.QUIET_FROM_STEP).mean() < 0.12


def test_merchants_and_customers(legit: pd.DataFrame, frame: pd.DataFrame) -> None:
    assert frame["nameOrig"].str.startswith("C").all()
    payments = frame[frame["type"] == "PAYMENT"]
    assert payments["nameDest"].str.startswith("M").all()
    assert (payments["oldbalanceDest"] == 0).all() and (payments["newbalanceDest"] == 0).all()
    others = frame[frame["type"] != "PAYMENT"]
    assert others["nameDest"].str.startswith("C").all()
    assert frame["nameDest"].str.fullmatch(r"[CM]\d+").all()


def test_bookkeeping_quirks(legit: pd.DataFrame) -> None:
    outgoing = legit[legit["type"].isin(["TRANSFER", "CASH_OUT"])]
    # Money leaves accounts that show a zero balance, and balances are floored at 0.
    assert ((outgoing["oldbalanceOrg"] == 0) & (outgoing["amount"] > 0)).mean() > 0.3
    assert (
        (outgoing["amount"] > outgoing["oldbalanceOrg"]) & (outgoing["newbalanceOrig"] == 0)
    ).mean() > 0.7
    cash_in = legit[legit["type"] == "CASH_IN"]
    dest_zero = (cash_in["oldbalanceDest"] == 0) & (cash_in["newbalanceDest"] == 0)
    assert 0.05 < dest_zero.mean() < 0.15
    # Destination balances do not always add up (moved by other activity within the step).
    cash_out = legit[legit["type"] == "CASH_OUT"]
    error = cash_out["oldbalanceDest"] + cash_out["amount"] - cash_out["newbalanceDest"]
    assert 0.2 < (error.abs() > 1).mean() < 0.6


def test_no_single_feature_separates_fraud_alone(frame: pd.DataFrame) -> None:
    # On real PaySim the best single feature reaches a ROC-AUC of about 0.94 (docs/generator.md).
    rows = frame[frame["type"].isin(["TRANSFER", "CASH_OUT"])]
    features = PaySimFeatures().fit(rows)
    matrix = features.transform(rows)
    for index, name in enumerate(features.get_feature_names_out()):
        auc = roc_auc_score(rows["isFraud"], matrix[:, index])
        assert max(auc, 1 - auc) < 0.97, name


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    first = generate(5000, seed=3)
    pd.testing.assert_frame_equal(first, generate(5000, seed=3))
    other = generate(5000, seed=4)
    assert not first["amount"].equals(other["amount"])
    assert not first["nameOrig"].equals(other["nameOrig"])


def test_tiny_sizes() -> None:
    two = generate(2, seed=1)
    assert two["type"].tolist() == ["TRANSFER", "CASH_OUT"] and two["isFraud"].sum() == 2
    assert len(generate(1)) == 1 and generate(1)["isFraud"].sum() == 0
    assert generate(50, seed=2)["isFraud"].sum() >= 2
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            generate(bad)


def test_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    generate(1000, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "[synthetic" in captured.err and "done: 1,000 rows" in captured.err


@pytest.mark.parametrize("suffix", [".csv.gz", ".parquet"])
def test_fraud_data_output_passes_load_validation(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"gen{suffix}"
    assert data_main(["synthetic:5000", "--seed", "7", "-o", str(out), "--quiet"]) == 0
    loaded = load_transactions(str(out))
    pd.testing.assert_frame_equal(loaded.frame, generate(5000, seed=7))
    assert loaded.sha256 is not None


def test_compare_real_prints_a_side_by_side_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from research.compare_real import main as compare_main

    reference = tmp_path / "reference.parquet"
    generate(20_000, seed=8).to_parquet(reference)
    assert compare_main(["--rows", "20000", "--seed", "8", "--real", str(reference)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "| section | metric | generated | real |" in lines
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and "%" in line]
    assert len(rows) > 40
    # The same data on both sides gives the same figures.
    assert all(row[-2] == row[-1].rstrip(" |") for row in rows)
    assert compare_main(["--real", str(tmp_path / "absent.csv")]) == 2

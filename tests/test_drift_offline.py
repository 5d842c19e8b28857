"""fraud-drift on files: the reference profile, no drift, amount drift, real rows, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from drift_fixtures import REAL_SAMPLE, TRAIN_SEED, profiled_model, training_frame
from fitted_artifacts import make_artifacts, paysim_like_frame, write_paysim_csv

from convert.cli import main as convert_main
from convert.drift_profile import quantile_edges, training_rows
from drift.cli import main
from service.monitoring.reference import PROFILE_KEY, parse_profile
from service.monitoring.stats import psi
from train.features import FEATURE_SETS, PaySimFeatures
from train.split import split_rows

#: Entries whose values an amount x4 moves: the amount and everything computed from it.
AMOUNT_ENTRIES = {"amount", "amt_ratio_orig", "errorBalanceOrig", "errorBalanceDest", "score"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return profiled_model(tmp_path_factory.mktemp("drift"))


def profile_of(path: Path):
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return parse_profile(props[PROFILE_KEY]), props[PROFILE_KEY]


def run_drift(model: Path, data: Path | str, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "drift.json"
    status = main(["--model", str(model), "--data", str(data), "--json", str(out), *extra])
    return status, json.loads(out.read_text()) if out.exists() else {}


def test_profile_covers_inputs_features_and_score_in_a_few_kb(model: Path) -> None:
    profile, text = profile_of(model)
    names = profile.names()
    # step is compared as hour of day; the one-hot type_* features are the type categories.
    assert names == [
        "type",
        "amount",
        "oldbalanceOrg",
        "newbalanceOrig",
        "oldbalanceDest",
        "newbalanceDest",
        "hour",
        "amt_ratio_orig",
        "errorBalanceOrig",
        "errorBalanceDest",
        "score",
    ]
    assert "step" not in names
    assert len(text.encode()) < 6000
    for entry in profile.entries:
        assert abs(sum(entry.shares) - 1) < 1e-3
        assert 2 <= entry.n_bins <= 20, entry.name
    # Training rows fall evenly in the quantile bins of a continuous feature.
    amount = profile.features[1]
    assert amount.n_bins == 20 and max(abs(s - 0.05) for s in amount.shares) < 0.002


def test_profile_shares_match_the_training_rows(model: Path) -> None:
    profile, _ = profile_of(model)
    frame = training_frame()
    hour = profile.features[6]
    edges = np.asarray(hour.edges, dtype=np.float32)
    bins = np.searchsorted(edges, np.fmod(frame["step"].to_numpy(np.float32), 24), side="left")
    observed = np.bincount(bins, minlength=hour.n_bins) / len(frame)
    assert np.allclose(observed, hour.shares, atol=1e-6)
    types = frame["type"].astype(str).value_counts(normalize=True)
    assert profile.features[0].categories == ("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER")
    for name, share in zip(profile.features[0].categories, profile.features[0].shares, strict=True):
        assert share == pytest.approx(types.get(name, 0.0), abs=1e-6)


def test_quantile_edges_keep_a_point_mass_in_one_bin() -> None:
    values = np.concatenate([np.zeros(600), np.arange(1, 401)]).astype(np.float32)
    edges = quantile_edges(values, 10)
    assert edges[0] == 0 and np.all(np.diff(edges) > 0) and edges[-1] < 400
    bins = np.searchsorted(edges, values, side="left")
    assert (bins[:600] == 0).all() and (bins[600:] > 0).all()


def test_training_rows_are_the_train_part_of_the_recorded_split() -> None:
    frame = paysim_like_frame(6000, 3)
    split = split_rows(frame, "step", 0.2, 0.2, 3)
    metrics = {
        "data": {"source": "synthetic:6000 (seed 3)"},
        "config": {"seed": 3, "split": "step", "test_size": 0.2, "validation_size": 0.2},
        "rows": {"train": {"rows": int(split.train.size)}},
    }
    rows = training_rows(metrics)
    assert rows is not None and rows.weights is None
    pd.testing.assert_frame_equal(rows.frame, frame.iloc[split.train].reset_index(drop=True))
    assert training_rows({"rows": 10}) is None  # no data recorded: no profile


def test_fraud_convert_prints_the_profile_size(tmp_path: Path, capsys) -> None:
    artifacts, _ = make_artifacts(tmp_path / "art", rows=4000, n_estimators=5)
    data = write_paysim_csv(tmp_path / "train.csv", paysim_like_frame(4000, 0))
    assert convert_main([str(artifacts), "--reference-data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "drift profile: 11 entries" in out and "bytes of metadata" in out
    assert convert_main([str(artifacts), "--no-profile"]) == 0
    assert "drift profile: none" in capsys.readouterr().out


def test_same_generator_other_seed_does_not_drift(model: Path, tmp_path: Path, capsys) -> None:
    data = write_paysim_csv(tmp_path / "seed7.csv", paysim_like_frame(20_000, TRAIN_SEED + 7))
    status, report = run_drift(model, data, tmp_path)
    assert status == 0, capsys.readouterr().out
    assert report["drifted"] == [] and report["rows"] == 20_000
    assert set(report["psi"]) == {*profile_of(model)[0].names()}
    assert max(report["psi"].values()) < 0.1
    assert "**No drift.**" in capsys.readouterr().out


def test_amounts_times_four_drift_on_amount_features_and_score(model: Path, tmp_path: Path) -> None:
    frame = paysim_like_frame(20_000, TRAIN_SEED + 7)
    frame["amount"] = frame["amount"] * 4
    data = write_paysim_csv(tmp_path / "x4.csv", frame)
    status, report = run_drift(model, data, tmp_path)
    assert status == 1
    assert {"amount", "errorBalanceOrig", "errorBalanceDest", "score"} <= set(report["drifted"])
    assert set(report["drifted"]) <= AMOUNT_ENTRIES
    # Inputs the change did not touch stay stable.
    for name in ("type", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "hour"):
        assert report["psi"][name] < 0.1, name


def test_parquet_gzip_and_directory_sources_agree(model: Path, tmp_path: Path) -> None:
    frame = paysim_like_frame(3000, 11)
    csv = write_paysim_csv(tmp_path / "one.csv", frame)
    _, expected = run_drift(model, csv, tmp_path)
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:1000].to_parquet(folder / "a.parquet")
    frame.iloc[1000:].to_csv(folder / "b.csv.gz", index=False)
    _, report = run_drift(model, folder, tmp_path)
    assert report["rows"] == 3000 and report["psi"] == expected["psi"]


def test_png_draws_the_drifted_features(model: Path, tmp_path: Path) -> None:
    frame = paysim_like_frame(5000, 5)
    frame["amount"] = frame["amount"] * 4
    png = tmp_path / "drift.png"
    data = write_paysim_csv(tmp_path / "x4.csv", frame)
    status, _ = run_drift(model, data, tmp_path, "--png", str(png))
    assert status == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_usage_errors_exit_2(model: Path, tmp_path: Path, capsys) -> None:
    no_profile = tmp_path / "plain.onnx"
    artifacts, _ = make_artifacts(tmp_path / "art", rows=3000, n_estimators=5)
    assert convert_main([str(artifacts), "-o", str(no_profile), "--no-profile"]) == 0
    data = write_paysim_csv(tmp_path / "d.csv", paysim_like_frame(500, 1))
    assert main(["--model", str(no_profile), "--data", str(data)]) == 2
    assert "no drift reference profile" in capsys.readouterr().err
    assert main(["--model", str(model), "--data", str(tmp_path / "absent.csv")]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("step,type\n1,PAYMENT\n")
    assert main(["--model", str(model), "--data", str(bad)]) == 2
    assert "missing column(s)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(model), "--data", str(data), "--watch", "0.5", "--drift", "0.2"])
    assert exit_info.value.code == 2


def raw_ks(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample KS statistic of raw values (independent of the profile's bins)."""
    grid = np.union1d(reference, current)
    cdf_ref = np.searchsorted(np.sort(reference), grid, side="right") / reference.size
    cdf_cur = np.searchsorted(np.sort(current), grid, side="right") / current.size
    return float(np.max(np.abs(cdf_ref - cdf_cur)))


@pytest.mark.real_data
@pytest.mark.skipif(not REAL_SAMPLE.is_file(), reason=f"real PaySim sample absent: {REAL_SAMPLE}")
def test_real_sample_drifts_on_the_features_that_truly_differ(model: Path, tmp_path: Path) -> None:
    status, report = run_drift(model, REAL_SAMPLE, tmp_path)
    assert status == 1
    # Which features truly differ, measured on the raw values, without the profile's bins:
    # the sample over-represents steps 1-10, so its hours of day are far from the generator's.
    real = pd.read_csv(REAL_SAMPLE)
    train = training_frame()
    transform = PaySimFeatures("full").fit(train)
    names = FEATURE_SETS["full"]
    truly = {
        name
        for name in report["psi"]
        if name in names
        and name != "step"
        and raw_ks(
            transform.transform(train)[:, names.index(name)],
            transform.transform(real)[:, names.index(name)],
        )
        > 0.2
    }
    assert truly == {"hour"}
    assert set(report["drifted"]) == truly
    # The reason, seen directly in the data: the sample's over-represented first steps put a
    # morning peak at hours 7-8 (about 11% of its rows) where the generator has almost none.
    real_hours = np.fmod(real["step"].to_numpy(), 24)
    train_hours = np.fmod(train["step"].to_numpy(), 24)
    assert np.isin(real_hours, (7, 8)).mean() > 0.08 > 0.01 > np.isin(train_hours, (7, 8)).mean()
    # A stable feature scores far below the drift threshold, not just under it.
    assert max(v for k, v in report["psi"].items() if k not in truly) < 0.1


def test_psi_is_zero_for_identical_shares_and_grows_with_the_shift() -> None:
    reference = [0.25, 0.25, 0.25, 0.25]
    assert psi(reference, [25, 25, 25, 25]) == pytest.approx(0.0)
    small, large = psi(reference, [30, 25, 25, 20]), psi(reference, [60, 20, 10, 10])
    assert 0 < small < 0.1 < 0.25 < large


def test_training_rows_from_a_file_check_its_checksum(tmp_path: Path) -> None:
    from convert.errors import ArtifactsError
    from train.data import file_sha256

    frame = paysim_like_frame(6000, 4)
    path = write_paysim_csv(tmp_path / "train.csv", frame)
    split = split_rows(frame, "step", 0.2, 0.2, 0)
    metrics = {
        "data": {"source": str(path), "sha256": file_sha256(path)},
        "config": {"seed": 0},
        "rows": {"train": {"rows": int(split.train.size)}},
    }
    rows = training_rows(metrics)
    assert rows is not None and len(rows.frame) == split.train.size
    assert rows.frame["amount"].to_numpy() == pytest.approx(
        frame["amount"].to_numpy()[split.train], rel=1e-6
    )
    with pytest.raises(ArtifactsError, match="changed since training"):
        training_rows({**metrics, "data": {"source": str(path), "sha256": "0" * 64}})
    with pytest.raises(ArtifactsError, match="--reference-data SOURCE or --no-profile"):
        training_rows({**metrics, "data": {"source": str(tmp_path / "gone.csv")}})
    # Legitimate rows carry the run's legit_weight in the profile's shares.
    weighted = training_rows({**metrics, "legit_weight": 24.3})
    assert weighted is not None and weighted.weights is not None
    assert set(np.unique(weighted.weights)) <= {1.0, 24.3}

"""Golden transactions: written into model.onnx at export with their outputs, reproduced by the
service scoring them, and a model whose outputs differ is caught."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.model import LoadedModel, load_model
from service.rollout.golden import (
    GOLDEN_KEY,
    PROBABILITY_ATOL,
    GoldenError,
    GoldenSet,
    golden_of,
    parse_golden,
)
from service.schema import TRANSACTION_TYPES
from service.settings import Settings

pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fitted_artifacts import make_artifacts

    from convert.export import export_model

    directory, _ = make_artifacts(tmp_path_factory.mktemp("golden"), rows=4000, n_estimators=20)
    return export_model(directory, verify=False)


def props(path: Path) -> dict[str, str]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.get_modelmeta().custom_metadata_map


def test_export_writes_golden_rows_for_every_type_with_the_models_inputs(exported: Path) -> None:
    golden = golden_of(props(exported))
    assert golden is not None
    assert len(golden.transactions) == 4 * len(TRANSACTION_TYPES)
    model = load_model(Settings(model_uri=str(exported)))
    assert isinstance(model, LoadedModel)
    assert all(set(tx) == set(model.input_names) for tx in golden.transactions)
    assert {tx["type"] for tx in golden.transactions} == set(TRANSACTION_TYPES)
    assert golden.threshold == model.metadata.threshold
    # A trained model gives the account-emptying TRANSFER a higher score than a CASH_IN payment.
    assert len(set(golden.probabilities)) > 1


def test_the_service_reproduces_its_golden_outputs(exported: Path) -> None:
    model = load_model(Settings(model_uri=str(exported)))
    assert isinstance(model, LoadedModel)
    golden = golden_of(props(exported))
    assert golden is not None
    client = TestClient(create_app(Settings(model_uri=str(exported)), model))
    answer = client.post("/predict", json=golden.request_body()).json()
    assert golden.check(answer["predictions"], answer["threshold"]) == []
    # One at a time too (single-row kernels may round differently; within the tolerance).
    for index, tx in enumerate(golden.transactions[:5]):
        single = client.post("/predict", json=tx).json()
        assert abs(single["probability_fraud"] - golden.probabilities[index]) <= PROBABILITY_ATOL


def test_check_reports_each_wrong_row() -> None:
    golden = GoldenSet(({"type": "CASH_IN"}, {"type": "TRANSFER"}), (0.1, 0.9), 0.5)
    good = [
        {"probability_fraud": 0.1, "is_fraud": False},
        {"probability_fraud": 0.9, "is_fraud": True},
    ]
    assert golden.check(good, 0.5) == []
    # At another threshold the decisions are recomputed: 0.9 >= 0.95 is false.
    assert golden.check(good, 0.95) == ["golden-1: is_fraud True at threshold 0.95, expected False"]
    shifted = [
        {"probability_fraud": 0.1, "is_fraud": False},
        {"probability_fraud": 0.8, "is_fraud": True},
    ]
    assert golden.check(shifted, 0.5) == ["golden-1: probability 0.8, expected 0.9"]
    assert golden.check(good[:1], 0.5) == ["expected 2 predictions, got 1"]
    # A row whose expected probability sits on the threshold accepts either decision.
    edge = GoldenSet(({"type": "DEBIT"},), (0.5,), 0.5)
    assert edge.check([{"probability_fraud": 0.5, "is_fraud": False}], 0.5) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nope", "not JSON"),
        ("[]", "JSON object"),
        ('{"transactions": [], "probability": [], "threshold": 0.5}', "no transactions"),
        ('{"transactions": [{}], "probability": [2.0], "threshold": 0.5}', "one probability"),
        ('{"transactions": [1], "probability": [0.1], "threshold": 0.5}', "list of objects"),
        ('{"transactions": [{}], "probability": [0.1]}', "threshold"),
    ],
)
def test_malformed_golden_metadata_is_refused(text: str, problem: str) -> None:
    with pytest.raises(GoldenError, match=problem):
        parse_golden(text)


def test_round_trip_and_absence() -> None:
    golden = GoldenSet(({"type": "DEBIT", "amount": 1.0},), (0.25,), 0.4)
    assert parse_golden(golden.to_json()) == golden
    assert golden_of({}) is None
    assert golden_of({GOLDEN_KEY: golden.to_json()}) == golden

"""POST /predict with ``"explain": true`` on a real converted model (convert.export), TestClient.

The model is a small XGBoost pipeline exported with its contributions output; the references
are the same session's raw ``contributions``/``features`` outputs, so these tests check what the
API does with them: top-k ordering, names, the merged ``type`` entry, values, the sum to the
log-odds, batches, errors, and a model exported without explanations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import pytest
from fitted_artifacts import make_artifacts, paysim_like_frame
from service_model import stamp_version
from starlette.testclient import TestClient

from client.api import FraudApiClient
from convert.export import export_model
from service import schema
from service.api.explain import DEFAULT_TOP_K, VECTOR_ROWS, rank_batch, rank_rows
from service.app import create_app
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.settings import Settings

TYPE_COLUMNS = [f"type_{t}" for t in schema.TRANSACTION_TYPES]
TX = dict(schema.EXAMPLE_TRANSACTION)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One pipeline, exported with and without explanations. colsample_bytree makes trees split
    on several type_* columns, so the merged ``type`` entry really sums more than one."""
    out, _ = make_artifacts(
        tmp_path_factory.mktemp("explain"),
        rows=20_000,
        seed=3,
        n_estimators=40,
        max_depth=5,
        scale_pos_weight=25,
        colsample_bytree=0.5,
    )
    return {
        "explained": export_model(out, explain=True),
        "plain": export_model(out, out / "plain.onnx", explain=False),
    }


def _serve(path: Path) -> tuple[LoadedModel, TestClient]:
    settings = Settings(model_uri=str(path), max_batch=500)
    model = load_model(settings)
    assert isinstance(model, LoadedModel), model
    return model, TestClient(create_app(settings, model))


@pytest.fixture(scope="module")
def explained(models: dict[str, Path]) -> tuple[LoadedModel, TestClient]:
    return _serve(models["explained"])


@pytest.fixture(scope="module")
def plain(models: dict[str, Path]) -> tuple[LoadedModel, TestClient]:
    return _serve(models["plain"])


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    frame = paysim_like_frame(300, seed=11)
    return [
        {name: (str(v) if name == "type" else float(v)) for name, v in row.items()}
        for row in frame[list(schema.MODEL_INPUTS)].to_dict(orient="records")
    ]


def reference(model: LoadedModel, rows: list[dict[str, Any]]) -> tuple[np.ndarray, ...]:
    """The session's own outputs for ``rows``: probability, contributions, features."""
    feeds = {
        name: np.array([row[name] for row in rows], dtype=object if name == "type" else np.float32)
        for name in model.input_names
    }
    return tuple(
        model.session.run(
            ["probability", "contributions", "features"], {**feeds, "explain": np.array(True)}
        )
    )


def batch(client: TestClient, rows: list[dict[str, Any]], **options: Any) -> list[dict]:
    response = client.post("/predict", json={"transactions": rows, **options})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def grouped(model: LoadedModel, contributions: np.ndarray) -> dict[str, np.ndarray]:
    """Reference contribution of each API entry: features as they are, type_* summed."""
    names = list(model.metadata.feature_names)
    wide = contributions.astype(np.float64)
    out = {name: wide[:, j] for j, name in enumerate(names) if not name.startswith("type_")}
    out["type"] = wide[:, [names.index(c) for c in TYPE_COLUMNS]].sum(axis=1)
    return out


def test_single_transaction_gets_top_k_entries_by_absolute_contribution(explained) -> None:
    model, client = explained
    body = client.post("/predict", json={**TX, "explain": True}).json()
    _, contributions, _ = reference(model, [TX])
    listed = body["contributions"]["features"]
    assert len(listed) == DEFAULT_TOP_K == 5
    magnitudes = [abs(e["contribution"]) for e in listed]
    assert magnitudes == sorted(magnitudes, reverse=True)
    expected = grouped(model, contributions)
    # The listed entries are the largest ones, and no entry left out is larger.
    ranked = sorted(expected, key=lambda name: -abs(expected[name][0]))
    assert [e["name"] for e in listed] == ranked[:5]
    for entry in listed:
        assert entry["contribution"] == pytest.approx(expected[entry["name"]][0], abs=1e-12)
    assert body["probability_fraud"] == client.post("/predict", json=TX).json()["probability_fraud"]


def test_entry_names_values_and_the_merged_type_entry(explained, rows) -> None:
    model, client = explained
    predictions = batch(client, rows, explain=True, top_k=100)
    _, contributions, features = reference(model, rows)
    names = list(model.metadata.feature_names)
    entries = [n for n in names if not n.startswith("type_")]
    expected = grouped(model, contributions)
    # Not a degenerate check: trees split on several type columns, so the merge sums them.
    type_columns = contributions[:, [names.index(c) for c in TYPE_COLUMNS]]
    assert (np.abs(type_columns).max(axis=0) > 0).sum() >= 2
    for i, (row, prediction) in enumerate(zip(rows, predictions, strict=True)):
        listed = {e["name"]: e for e in prediction["contributions"]["features"]}
        assert sorted(listed) == sorted([*entries, "type"])  # top_k beyond F: every entry
        assert listed["type"]["value"] == row["type"]
        assert listed["type"]["contribution"] == pytest.approx(expected["type"][i], abs=1e-12)
        for name in entries:
            assert listed[name]["value"] == float(features[i, names.index(name)])
            assert listed[name]["contribution"] == float(contributions[i, names.index(name)])
        assert prediction["contributions"]["other"] == 0.0
        assert prediction["contributions"]["bias"] == float(contributions[i, -1])


def test_row_and_batch_ranking_agree_bit_for_bit(explained, rows) -> None:
    """Small requests rank in plain Python, larger ones with numpy: the same answer."""
    model, _ = explained
    spec = model.explanation
    assert spec is not None and len(rows) >= VECTOR_ROWS
    _, contributions, features = reference(model, rows)
    assert rank_rows(spec, contributions, features) == rank_batch(spec, contributions, features)
    # Ties keep the model's order: zeros everywhere, and equal magnitudes of both signs.
    tied = np.zeros((2, contributions.shape[1]), dtype=np.float32)
    tied[1, [4, 2, 0]] = [0.5, -0.5, 0.25]
    orders, ranked, _ = rank_rows(spec, tied, features[:2])
    assert (orders, ranked) == rank_batch(spec, tied, features[:2])[:2]
    assert orders[0] == list(range(len(spec.entries)))
    assert orders[1][:3] == [2, 4, 0] and ranked[1][:3] == [-0.5, 0.5, 0.25]


@pytest.mark.parametrize("top_k", [1, 3, 100])
def test_listed_other_and_bias_add_up_to_the_log_odds(explained, rows, top_k: int) -> None:
    _, client = explained
    predictions = batch(client, rows, explain=True, top_k=top_k)
    totals, probabilities = [], []
    for prediction in predictions:
        explanation = prediction["contributions"]
        assert len(explanation["features"]) == min(top_k, 11)
        listed = sum(e["contribution"] for e in explanation["features"])
        totals.append(listed + explanation["other"] + explanation["bias"])
        probabilities.append(prediction["probability_fraud"])
    totals_a, p = np.array(totals), np.array(probabilities)
    # float32 model: sigmoid(sum) is the probability to about 1e-7 (docs/explanations.md).
    np.testing.assert_allclose(1 / (1 + np.exp(-totals_a)), p, rtol=0, atol=1e-6)
    moderate = (p > 1e-3) & (p < 1 - 1e-3)
    assert moderate.sum() >= 3
    logit = np.log(p[moderate] / (1 - p[moderate]))
    np.testing.assert_allclose(totals_a[moderate], logit, rtol=0, atol=1e-3)
    assert len(set(np.round(totals_a, 3))) > 10  # rows differ


def test_batch_explain_applies_to_every_prediction_and_only_when_asked(explained, rows) -> None:
    _, client = explained
    with_explain = batch(client, rows[:20], explain=True)
    without = batch(client, rows[:20])
    explicit_false = batch(client, rows[:20], explain=False)
    assert all("contributions" in p for p in with_explain)
    assert not any("contributions" in p for p in without + explicit_false)
    assert [p["probability_fraud"] for p in with_explain] == [
        p["probability_fraud"] for p in without
    ]
    single = client.post("/predict", json={**TX, "explain": False}).json()
    assert "contributions" not in single


def test_legacy_body_can_ask_for_explanations(explained) -> None:
    _, client = explained
    legacy = {k: v for k, v in TX.items() if k != "type"}
    legacy.update({"type_CASH_OUT": 0, "type_DEBIT": 0, "type_PAYMENT": 0, "type_TRANSFER": 1})
    answer = client.post("/predict", json={**legacy, "explain": True, "top_k": 11}).json()
    listed = {e["name"]: e["value"] for e in answer["contributions"]["features"]}
    assert listed["type"] == "TRANSFER"


@pytest.mark.parametrize(
    ("options", "field", "needle"),
    [
        ({"explain": "yes"}, "explain", "must be true or false"),
        ({"explain": 1}, "explain", "must be true or false"),
        ({"explain": None}, "explain", "must be true or false"),
        ({"explain": True, "top_k": 0}, "top_k", "whole number >= 1"),
        ({"explain": True, "top_k": 2.5}, "top_k", "whole number >= 1"),
        ({"explain": True, "top_k": True}, "top_k", "whole number >= 1"),
        ({"top_k": 3}, "top_k", 'only with "explain": true'),
    ],
)
def test_bad_options_are_422_naming_the_field(explained, options, field, needle) -> None:
    _, client = explained
    for body in ({**TX, **options}, {"transactions": [TX], **options}):
        response = client.post("/predict", json=body)
        assert response.status_code == 422
        details = {d["field"]: d["problem"] for d in response.json()["details"]}
        assert needle in details[field]


def test_explain_inside_a_batch_item_is_a_422_pointing_to_the_top_level(explained) -> None:
    _, client = explained
    body = {"transactions": [TX, {**TX, "explain": True}]}
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    details = {d["field"]: d["problem"] for d in response.json()["details"]}
    assert list(details) == ["transactions[1].explain"]
    assert "top level" in details["transactions[1].explain"]


def test_a_model_without_explanations_serves_and_refuses_explain(plain, explained) -> None:
    model, client = plain
    assert model.explanation is None
    assert client.get("/model").json()["explanations"] is None
    answer = client.post("/predict", json={**TX, "explain": False})
    assert answer.status_code == 200 and "contributions" not in answer.json()
    # Same trees: the same probability as the explained model.
    assert (
        answer.json()["probability_fraud"]
        == explained[1].post("/predict", json=TX).json()["probability_fraud"]
    )
    for body in ({**TX, "explain": True}, {"transactions": [TX], "explain": True}):
        refused = client.post("/predict", json=body)
        assert refused.status_code == 422
        assert [d["field"] for d in refused.json()["details"]] == ["explain"]
        assert "exported without explanations" in refused.json()["error"]


def test_get_model_lists_the_explanation_entries(explained) -> None:
    model, client = explained
    described = client.get("/model").json()["explanations"]
    names = list(model.metadata.feature_names)
    assert described["contributions_columns"] == [*names, "bias"]
    expected: list[str] = []
    for name in names:  # model order; the type_* columns become one entry where they start
        entry = "type" if name.startswith("type_") else name
        if entry not in expected:
            expected.append(entry)
    assert described["entries"] == expected
    assert "type" in expected and not any(e.startswith("type_") for e in expected)


def _with_metadata(source: Path, target: Path, **changes: str | None) -> Path:
    proto = onnx.load(source)
    props = {p.key: p.value for p in proto.metadata_props}
    props.update({k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        props.pop(key, None)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    stamp_version(proto)  # a consistent identity: the refusal must come from the change itself
    onnx.save(proto, target)
    return target


def test_explanations_declared_but_not_delivered_are_refused_at_load(models, tmp_path) -> None:
    names = json.loads(
        {p.key: p.value for p in onnx.load(models["explained"]).metadata_props}["feature_names"]
    )
    cases = {
        "no outputs": (models["plain"], {"explanation_outputs": '["contributions","features"]',
                                         "contributions_columns": json.dumps([*names, "bias"])}),
        "columns": (models["explained"], {"contributions_columns": json.dumps(names)}),
        "outputs": (models["explained"], {"explanation_outputs": '["contributions"]'}),
        "not json": (models["explained"], {"explanation_outputs": "contributions"}),
    }  # fmt: skip
    for case, (source, changes) in cases.items():
        path = _with_metadata(source, tmp_path / f"{case}.onnx", **changes)
        loaded = load_model(Settings(model_uri=str(path)))
        assert isinstance(loaded, ModelLoadFailure), case
        assert "explanation" in loaded.reason or "contributions" in loaded.reason, loaded.reason


def test_loading_an_explained_model_prints_no_onnxruntime_warning(models, capfd) -> None:
    # The explain switch is an initializer that is also a graph input: ORT warns about it unless
    # the session logs errors only (service.model.session_options).
    assert isinstance(load_model(Settings(model_uri=str(models["explained"]))), LoadedModel)
    captured = capfd.readouterr()
    assert "appears in graph inputs" not in captured.err + captured.out
    broken = load_model(Settings(model_uri=str(models["explained"].with_name("missing.onnx"))))
    assert isinstance(broken, ModelLoadFailure) and "missing.onnx" in broken.reason


def test_the_client_parses_the_real_answer(explained) -> None:
    """client/api.py's FraudApiClient, through the app: the shape it parses is the one served."""
    model, app_client = explained

    def forward(request: httpx.Request) -> httpx.Response:
        answer = app_client.request(
            request.method, request.url.path, content=request.content, headers=request.headers
        )
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    with FraudApiClient("http://fraudlite.test", transport=httpx.MockTransport(forward)) as api:
        result = api.predict(TX, explain=True)
        plain_result = api.predict(TX)
    explanation = result.prediction.explanation
    assert explanation is not None and plain_result.prediction.explanation is None
    _, contributions, _ = reference(model, [TX])
    assert explanation.bias == float(contributions[0, -1])
    assert len(explanation.features) == DEFAULT_TOP_K
    assert explanation.features[0].contribution != 0
    from client import charts

    spec = charts.contributions_chart(explanation).to_dict()
    assert spec["encoding"]["y"]["sort"] == [c.name for c in explanation.features]


def test_openapi_documents_the_options_and_the_answer_with_a_real_example(explained, plain) -> None:
    from jsonschema import Draft202012Validator

    _, client = explained
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for name in ("TransactionRequest", "LegacyTransactionRequest", "BatchRequest"):
        assert {"explain", "top_k"} <= set(schemas[name]["properties"])
    # Batch items take no options: they apply to the whole batch.
    assert "explain" not in schemas["Transaction"]["properties"]
    predict = document["paths"]["/predict"]["post"]
    request = predict["requestBody"]["content"]["application/json"]["examples"]["explained"]
    answer = predict["responses"]["200"]["content"]["application/json"]["examples"]["explained"]
    assert answer["value"] == client.post("/predict", json=request["value"]).json()
    assert len(answer["value"]["contributions"]["features"]) == request["value"]["top_k"]

    def valid(name: str, instance: Any) -> bool:
        root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        return Draft202012Validator(root).is_valid(instance)

    assert valid("Prediction", answer["value"])
    assert valid("TransactionRequest", request["value"])
    assert not valid("TransactionRequest", {**request["value"], "explain": "yes"})
    batch_answer = client.post("/predict", json={"transactions": [TX], "explain": True}).json()
    assert all(valid("Explanation", p["contributions"]) for p in batch_answer["predictions"])
    # Whole answers match their documented schemas, batch answers included.
    assert valid("BatchPrediction", batch_answer)
    plain_batch = client.post("/predict", json={"transactions": [TX, TX]}).json()
    assert valid("BatchPrediction", plain_batch)
    assert not valid("BatchPrediction", {**plain_batch, "predictions": [{"is_fraud": True}]})
    # A model that cannot explain shows no explained example.
    plain_examples = plain[1].get("/openapi.json").json()["paths"]["/predict"]["post"]
    assert (
        "explained" not in plain_examples["requestBody"]["content"]["application/json"]["examples"]
    )


def test_the_single_transaction_page_draws_the_served_contributions(models, tmp_path) -> None:
    """The Streamlit page against a live service (uvicorn on 127.0.0.1) serving the explained
    model: with "Explain the score" ticked it shows the API's own contributions as a chart."""
    import socket
    import subprocess
    import sys
    import time

    from streamlit.testing.v1 import AppTest

    from client.presets import FRAUD, transaction_from_values

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "service", "--model", str(models["explained"])]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "service.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=root, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "service.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "service did not start in 30 s"
            time.sleep(0.1)
        body = {**transaction_from_values(FRAUD.values), "explain": True}
        expected = httpx.post(f"{url}/predict", json=body).json()["contributions"]
        at = AppTest.from_file(str(root / "client" / "app.py"), default_timeout=30)
        at.session_state["api_url"] = url
        at.run()
        at.checkbox(key="txn_explain").check()
        at.button(key=f"preset_{FRAUD.key}").click().run()
        assert not at.exception
        explanation = at.session_state["single_result"].prediction.explanation
        assert explanation is not None
        assert [(c.name, c.value, c.contribution) for c in explanation.features] == [
            (e["name"], e["value"], e["contribution"]) for e in expected["features"]
        ]
        assert explanation.bias == expected["bias"]
        assert not at.info  # no "No explanation available" note
        assert len(at.tabs[0].get("vega_lite_chart")) == 2  # probability bar + contributions
        # A shareable link asks for the same: ?preset=fraud&explain=1.
        linked = AppTest.from_file(str(root / "client" / "app.py"), default_timeout=30)
        linked.session_state["api_url"] = url
        linked.query_params["preset"] = FRAUD.key
        linked.query_params["explain"] = "1"
        linked.run()
        assert not linked.exception
        shown = linked.session_state["single_result"].prediction.explanation
        assert shown is not None and shown.bias == expected["bias"]
    finally:
        process.terminate()
        process.wait(timeout=10)

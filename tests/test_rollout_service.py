"""Shadow scoring and A/B splits in the service, through a live uvicorn and the Lambda handler.

A shadow (working, failing to load, or failing to score) never changes an answer: bodies and
statuses are compared byte for byte with a primary-only app. The shadow's probability, decision,
|dp| and flips go to the decision log and the metrics. A/B arms follow a hash of transaction_id
(else the request id): the same in a batch as alone, and every prediction names its model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from lambda_events import FakeLambdaContext, http_api_event
from live_server import serve
from service_model import PREAUTH_INPUTS, build_model

from service import schema
from service.app import create_app
from service.lambda_app import build_handler
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.rollout.ab import AB_METRICS
from service.rollout.arms import ARM_A, ARM_B, arm_of, assign, bucket
from service.rollout.models import Rollout, load_rollout
from service.rollout.shadow import SHADOW_METRICS
from service.settings import Settings, SettingsError
from service.telemetry.decision_log import DecisionLog
from service.telemetry.metrics import Observation
from service.telemetry.setup import Telemetry

TX = dict(schema.EXAMPLE_TRANSACTION)
PAYMENT = {**TX, "type": "PAYMENT", "amount": 9839.64, "oldbalanceOrg": 170136.0,
           "newbalanceOrig": 160296.36}  # fmt: skip
BATCH = {
    "transactions": [
        {**TX, "transaction_id": "t-1"},
        {**PAYMENT, "transaction_id": 2},
        {**TX, "type": "CASH_OUT", "amount": 5e5, "oldbalanceOrg": 5e5},
        {**PAYMENT, "nameDest": "M1979787155", "transaction_id": "t-4"},
    ]
}
LEGACY = {
    "step": 1, "amount": 181.0, "oldbalanceOrg": 181.0, "newbalanceOrig": 0.0,
    "oldbalanceDest": 0.0, "newbalanceDest": 0.0, "type_CASH_OUT": 0, "type_DEBIT": 0,
    "type_PAYMENT": 0, "type_TRANSFER": 1, "amt_ratio_orig": 1.0,
}  # fmt: skip
#: Requests a client may send: valid ones, and ones answered with 4xx.
REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/predict", TX),
    ("POST", "/predict", {**TX, "transaction_id": "abc"}),
    ("POST", "/predict", PAYMENT),
    ("POST", "/predict", BATCH),
    ("POST", "/predict", LEGACY),
    ("POST", "/predict", {**TX, "amount": -1}),
    ("POST", "/predict", {"transactions": []}),
    ("POST", "/predict", {**TX, "nameDest": ""}),
    ("POST", "/v2/models/fraudlite/infer", None),  # a V2 request (built below)
    ("GET", "/model/nope", None),
]


class Recorder:
    """A metrics recorder keeping every observation."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []

    def startup(self, model_loaded: bool) -> None:
        pass

    def observe(self, observation: Observation) -> None:
        self.observations.append(observation)


def telemetry() -> tuple[Telemetry, list[str], Recorder]:
    lines: list[str] = []
    recorder = Recorder()
    return Telemetry(metrics=recorder, decisions=DecisionLog(lines.append)), lines, recorder


def decisions(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for text in lines for line in text.splitlines() if line]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rollout")
    return {
        "primary": build_model(root / "primary.onnx", threshold=0.5),
        # A pre-authorization model: fewer inputs, other probabilities, another version.
        "preauth": build_model(root / "preauth.onnx", inputs=schema.PREAUTH_INPUTS, threshold=0.2),
        # Needs nameDest, which the primary does not take: read from the body when present.
        "named": build_model(root / "named.onnx", inputs=PREAUTH_INPUTS, threshold=0.3),
        "corrupt": _write(root / "corrupt.onnx", b"not a model"),
        # Another model within the primary's inputs, for a third version.
        "named_free": build_model(root / "third.onnx", inputs=schema.MODEL_INPUTS, threshold=0.7),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def v2_body() -> dict[str, Any]:
    inputs = []
    for name in schema.MODEL_INPUTS:
        kind = "BYTES" if name == "type" else "FP32"
        inputs.append({"name": name, "datatype": kind, "shape": [1], "data": [TX[name]]})
    return {"inputs": inputs}


def settings_for(models: dict[str, Path], **extra: Any) -> Settings:
    return Settings(model_uri=str(models["primary"]), **extra)


def app_for(settings: Settings, tel: Telemetry | None = None) -> Any:
    primary = load_model(settings)
    return create_app(settings, primary, tel, load_rollout(settings, primary))


def exchange(port: int) -> list[tuple[int, bytes]]:
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for method, path, body in REQUESTS:
            if path.startswith("/v2"):
                body = v2_body()
            response = client.request(method, path, json=body)
            out.append((response.status_code, response.content))
    return out


@pytest.fixture(scope="module")
def primary_only(models: dict[str, Path]) -> list[tuple[int, bytes]]:
    with serve(app_for(settings_for(models))) as port:
        return exchange(port)


# --- shadow --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shadow", ["preauth", "named", "corrupt", "missing"])
def test_answers_with_a_shadow_equal_primary_only_answers_byte_for_byte(
    models: dict[str, Path], primary_only: list[tuple[int, bytes]], shadow: str
) -> None:
    uri = str(models.get(shadow, "/nonexistent/shadow.onnx"))
    tel, lines, _ = telemetry()
    with serve(app_for(settings_for(models, shadow_model_uri=uri), tel)) as port:
        answers = exchange(port)
    assert answers == primary_only
    assert [status for status, _ in answers][:5] == [200] * 5  # the valid ones were scored
    assert decisions(lines)  # and the shadow's outcome was logged beside them


def test_a_shadow_that_fails_to_score_changes_nothing(
    models: dict[str, Path], primary_only: list[tuple[int, bytes]]
) -> None:
    settings = settings_for(models, shadow_model_uri=str(models["preauth"]))
    primary = load_model(settings)
    rollout = load_rollout(settings, primary)
    assert rollout is not None and rollout.shadow_model is not None

    def broken(columns: Any) -> Any:
        raise RuntimeError("onnxruntime exploded")

    rollout.shadow_model.score = broken  # type: ignore[method-assign]
    tel, lines, recorder = telemetry()
    with serve(create_app(settings, primary, tel, rollout)) as port:
        assert exchange(port) == primary_only
    logged = [d for d in decisions(lines) if d["route"] == "/predict"]
    assert logged and all(d["shadow_error"] == "scoring failed" for d in logged)
    errors = [o.extra.get("ShadowErrors", (0,))[0] for o in recorder.observations]
    assert sum(errors) == 1 + 1 + 1 + 4 + 1  # the five scored /predict requests' transactions


def test_shadow_outcome_in_decision_log_and_metrics(models: dict[str, Path]) -> None:
    settings = settings_for(models, shadow_model_uri=str(models["preauth"]))
    primary = load_model(settings)
    shadow = load_model(Settings(model_uri=str(models["preauth"])))
    assert isinstance(primary, LoadedModel) and isinstance(shadow, LoadedModel)
    tel, lines, recorder = telemetry()
    with serve(create_app(settings, primary, tel, load_rollout(settings, primary))) as port:
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=BATCH).json()
    logged = decisions(lines)
    assert len(logged) == 4
    rows = [
        {k: v for k, v in tx.items() if k in schema.MODEL_INPUTS} for tx in BATCH["transactions"]
    ]
    columns = {
        name: np.array([r[name] for r in rows], dtype=object if name == "type" else np.float32)
        for name in schema.MODEL_INPUTS
    }
    expected_p, expected_l = shadow.score({n: columns[n] for n in shadow.input_names})
    flips = 0
    for record, prediction, p, label in zip(
        logged, answer["predictions"], expected_p.tolist(), expected_l.tolist(), strict=True
    ):
        assert record["probability"] == prediction["probability_fraud"]
        assert record["shadow_model_version"] == shadow.version
        assert record["shadow_probability"] == p and record["shadow_is_fraud"] == label
        assert record["shadow_abs_dp"] == pytest.approx(abs(p - prediction["probability_fraud"]))
        assert record["shadow_flip"] == (label != prediction["is_fraud"])
        flips += record["shadow_flip"]
    assert any(r["shadow_abs_dp"] > 0 for r in logged)
    (observation,) = [o for o in recorder.observations if o.route == "/predict"]
    assert observation.extra["ShadowScored"][0] == 4
    assert observation.extra["ShadowFlips"][0] == flips
    total = sum(r["shadow_abs_dp"] for r in logged)
    assert observation.extra["ShadowAbsDelta"][0] == pytest.approx(total)


def test_a_shadow_needing_other_inputs_reads_them_from_the_body(models: dict[str, Path]) -> None:
    settings = settings_for(models, shadow_model_uri=str(models["named"]))
    tel, lines, recorder = telemetry()
    with serve(app_for(settings, tel)) as port:
        base = f"http://127.0.0.1:{port}/predict"
        assert httpx.post(base, json={**TX, "nameDest": "M1979787155"}).status_code == 200
        assert httpx.post(base, json=TX).status_code == 200  # no nameDest: still answered
    with_name, without = decisions(lines)
    assert "shadow_probability" in with_name and "shadow_error" not in with_name
    assert without["shadow_error"] == "shadow inputs missing"
    assert recorder.observations[-1].extra["ShadowErrors"][0] == 1


def test_model_and_health_list_every_model_with_its_role(models: dict[str, Path]) -> None:
    settings = settings_for(
        models, shadow_model_uri="/nonexistent/shadow.onnx", ab_model_uri=str(models["preauth"]),
        ab_share=0.25,
    )  # fmt: skip
    with serve(app_for(settings)) as port:
        health = httpx.get(f"http://127.0.0.1:{port}/health")
        info = httpx.get(f"http://127.0.0.1:{port}/model").json()
    assert health.status_code == 200  # a broken shadow does not make the service unhealthy
    roles = {m["role"]: m for m in health.json()["models"]}
    assert roles["primary"]["status"] == "loaded" and roles["ab"]["share"] == 0.25
    assert roles["shadow"]["status"] == "failed" and roles["shadow"]["model_version"] is None
    assert "/nonexistent" not in health.text  # the kind of fault, never the path
    assert {m["role"] for m in info["models"]} == {"primary", "shadow", "ab"}
    assert (
        roles["ab"]["model_version"] == info["models"][2]["model_version"] != info["model_version"]
    )


def test_primary_only_answers_have_no_models_list(models: dict[str, Path]) -> None:
    with serve(app_for(settings_for(models))) as port:
        assert httpx.get(f"http://127.0.0.1:{port}/health").json().keys() == {
            "status",
            "model_version",
        }


# --- A/B -----------------------------------------------------------------------------------------


def test_arm_assignment_is_stable_across_10000_ids_and_near_the_share() -> None:
    ids = [f"tx-{i}" for i in range(10_000)]
    for share in (0.1, 0.25, 0.5):
        arms = [arm_of(tx, share) for tx in ids]
        assert arms == [arm_of(tx, share) for tx in ids]  # stable
        assert abs(arms.count(ARM_B) / len(ids) - share) <= 0.02
        # A batch gets what each transaction gets alone.
        assert assign(ids, "request-1", share) == arms
    # Growing the share only moves transactions from A to B.
    small = {tx for tx in ids if arm_of(tx, 0.1) == ARM_B}
    assert small <= {tx for tx in ids if arm_of(tx, 0.3) == ARM_B}
    assert arm_of("42", 0.5) == assign([42], "r", 0.5)[0]  # an integer id is its decimal text
    assert assign([None, None], "request-7", 0.5) == [arm_of("request-7", 0.5)] * 2
    assert assign(["x"], "r", 0.0) == [ARM_A] and assign(["x"], "r", 1.0) == [ARM_B]
    assert 0 <= bucket("anything") < 1


def test_ab_split_in_a_batch_as_alone_and_every_prediction_names_its_model(
    models: dict[str, Path],
) -> None:
    settings = settings_for(models, ab_model_uri=str(models["preauth"]), ab_share=0.5)
    primary = load_model(settings)
    rollout = load_rollout(settings, primary)
    assert isinstance(primary, LoadedModel) and rollout is not None and rollout.ab_model
    versions = {ARM_A: primary.version, ARM_B: rollout.ab_model.version}
    thresholds = {ARM_A: primary.threshold, ARM_B: rollout.ab_model.threshold}
    ids = [f"tx-{i}" for i in range(60)]
    batch = {"transactions": [{**TX, "transaction_id": tx} for tx in ids]}
    tel, lines, recorder = telemetry()
    with serve(create_app(settings, primary, tel, rollout)) as port:
        url = f"http://127.0.0.1:{port}/predict"
        together = httpx.post(url, json=batch).json()
        alone = [httpx.post(url, json={**TX, "transaction_id": tx}).json() for tx in ids]
    arms = [arm_of(tx, 0.5) for tx in ids]
    assert {ARM_A, ARM_B} == set(arms)
    for tx, arm, item, single in zip(ids, arms, together["predictions"], alone, strict=True):
        assert item["model_version"] == single["model_version"] == versions[arm], tx
        assert item["threshold"] == single["threshold"] == thresholds[arm]
        assert item["probability_fraud"] == pytest.approx(single["probability_fraud"], abs=1e-6)
        assert single["is_fraud"] == (single["probability_fraud"] >= thresholds[arm])
    assert together["model_version"] == primary.version  # top level: the primary, as before
    logged = decisions(lines)
    assert [d["arm"] for d in logged[:60]] == arms
    assert [d["arm_model_version"] for d in logged[:60]] == [versions[a] for a in arms]
    # A single transaction's record names the model that decided it.
    assert all(d["model_version"] == versions[d["arm"]] for d in logged[60:])
    batch_obs = next(o for o in recorder.observations if o.batch_size == 60)
    assert batch_obs.extra["ArmBTransactions"][0] == arms.count(ARM_B)
    assert batch_obs.extra["ArmATransactions"][0] == arms.count(ARM_A)


def test_ab_without_transaction_id_goes_by_request_id(models: dict[str, Path]) -> None:
    settings = settings_for(models, ab_model_uri=str(models["preauth"]), ab_share=0.5)
    with serve(app_for(settings)) as port:
        url = f"http://127.0.0.1:{port}/predict"
        seen = {}
        for request_id in ("req-a", "req-b", "req-c", "req-d", "req-e", "req-f"):
            answer = httpx.post(
                url, json=BATCH | {"transactions": [TX, TX]}, headers={"X-Request-ID": request_id}
            ).json()
            versions = {p["model_version"] for p in answer["predictions"]}
            assert len(versions) == 1  # one request, one arm
            seen[request_id] = versions.pop()
    load = load_model(settings)
    assert isinstance(load, LoadedModel)
    for request_id, version in seen.items():
        assert (version == load.version) == (arm_of(request_id, 0.5) == ARM_A)


def test_ab_model_needing_other_inputs_is_refused_and_the_primary_serves(
    models: dict[str, Path],
) -> None:
    settings = settings_for(models, ab_model_uri=str(models["named"]), ab_share=1.0)
    primary = load_model(settings)
    rollout = load_rollout(settings, primary)
    assert rollout is not None and isinstance(rollout.ab, ModelLoadFailure)
    assert "nameDest" in rollout.ab.reason and not rollout.splits
    with serve(create_app(settings, primary, None, rollout)) as port:
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=TX).json()
    assert isinstance(primary, LoadedModel) and answer["model_version"] == primary.version


# --- Lambda --------------------------------------------------------------------------------------


def invoke(handler: Any, method: str, path: str, body: Any = None) -> tuple[int, str]:
    event = http_api_event(method, path, body, route_key=f"{method} {path}")
    response = handler(event, FakeLambdaContext())
    return response["statusCode"], response["body"]


@pytest.mark.parametrize("shadow", ["preauth", "corrupt"])
def test_lambda_handler_with_a_shadow_answers_as_without(
    models: dict[str, Path], shadow: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"FRAUD_MODEL_URI": str(models["primary"]), "FRAUD_METRICS": "off"}
    plain = build_handler(env, setup_logging=False)
    shadowed = build_handler(
        {**env, "FRAUD_SHADOW_MODEL_URI": str(models[shadow])}, setup_logging=False
    )
    for method, path, body in [r for r in REQUESTS if not r[1].startswith("/v2")]:
        assert invoke(shadowed, method, path, body) == invoke(plain, method, path, body)
    status, health = invoke(shadowed, "GET", "/health")
    assert status == 200
    shadow_entry = json.loads(health)["models"][1]
    assert shadow_entry["status"] == ("loaded" if shadow == "preauth" else "failed")
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines() if '"event":"decision"' in line]
    key = "shadow_probability" if shadow == "preauth" else "shadow_error"
    assert records and any(key in r for r in records)


def test_lambda_handler_ab_split(models: dict[str, Path]) -> None:
    handler = build_handler(
        {
            "FRAUD_MODEL_URI": str(models["primary"]),
            "FRAUD_AB_MODEL_URI": str(models["preauth"]),
            "FRAUD_AB_SHARE": "0.5",
            "FRAUD_METRICS": "off",
            "FRAUD_DECISION_LOG": "off",
        },
        setup_logging=False,
    )
    ab_version = load_model(Settings(model_uri=str(models["preauth"])))
    assert isinstance(ab_version, LoadedModel)
    for tx in ("a", "b", "c", "d", "e", "f", "g", "h"):
        status, text = invoke(handler, "POST", "/predict", {**TX, "transaction_id": tx})
        assert status == 200
        expected = ab_version.version if arm_of(tx, 0.5) == ARM_B else None
        if expected:
            assert json.loads(text)["model_version"] == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FRAUD_AB_MODEL_URI": "m.onnx"}, "FRAUD_AB_SHARE"),
        ({"FRAUD_AB_SHARE": "0.5"}, "FRAUD_AB_SHARE"),
        ({"FRAUD_AB_MODEL_URI": "m.onnx", "FRAUD_AB_SHARE": "1.5"}, "FRAUD_AB_SHARE"),
        ({"FRAUD_AB_MODEL_URI": "m.onnx", "FRAUD_AB_SHARE": "half"}, "FRAUD_AB_SHARE"),
        ({"FRAUD_SHADOW_MODEL_SHA256": "xyz"}, "FRAUD_SHADOW_MODEL_SHA256"),
    ],
)
def test_rollout_settings_are_checked(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.variable == variable


def test_no_rollout_without_settings(models: dict[str, Path]) -> None:
    settings = settings_for(models)
    assert load_rollout(settings, load_model(settings)) is None
    assert Rollout().describe(ModelLoadFailure("x"))[0]["status"] == "failed"
    assert set(SHADOW_METRICS).isdisjoint(AB_METRICS)


@pytest.fixture(autouse=True)
def _no_stray_servers() -> Iterator[None]:
    yield


# --- KServe V2 -----------------------------------------------------------------------------------


def test_v2_routes_serve_each_model_under_its_version(models: dict[str, Path]) -> None:
    settings = settings_for(
        models, shadow_model_uri=str(models["preauth"]), ab_model_uri=str(models["named_free"]),
        ab_share=0.3,
    )  # fmt: skip
    primary = load_model(settings)
    rollout = load_rollout(settings, primary)
    assert isinstance(primary, LoadedModel) and rollout is not None
    shadow, ab = rollout.shadow_model, rollout.ab_model
    assert shadow is not None and ab is not None
    with serve(create_app(settings, primary, None, rollout)) as port:
        base = f"http://127.0.0.1:{port}/v2/models/fraudlite"
        for model in (primary, shadow, ab):
            url = f"{base}/versions/{model.version}"
            meta = httpx.get(url).json()
            assert meta["versions"] == [model.version]
            assert [i["name"] for i in meta["inputs"]] == list(model.input_names)
            assert httpx.get(f"{url}/ready").json()["ready"] is True
            inputs = [i for i in v2_body()["inputs"] if i["name"] in model.input_names]
            answer = httpx.post(f"{url}/infer", json={"inputs": inputs}).json()
            assert answer["model_version"] == model.version
            columns = {
                i["name"]: np.array(i["data"], dtype=object if i["name"] == "type" else np.float32)
                for i in inputs
            }
            (expected,) = model.score(columns)[0].tolist()
            assert answer["outputs"][0]["data"] == [expected]
        assert httpx.get(f"{base}/versions/0123456789abcdef").status_code == 404
        plain = httpx.post(f"{base}/infer", json=v2_body()).json()
        assert plain["model_version"] == primary.version

"""client/api.py against httpx.MockTransport: request shapes, answers, and every error class."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from client.api import (
    ApiBadResponse,
    ApiRejected,
    ApiServerError,
    ApiUnreachable,
    FraudApiClient,
    ProblemDetail,
    parse_explanation,
)
from client.presets import FRAUD, LEGITIMATE, TRANSACTION_FIELDS, transaction_from_values

ANSWER = {"probability_fraud": 0.875, "is_fraud": True, "threshold": 0.42, "model_version": "abc"}


def _client(
    handler: Callable[[httpx.Request], httpx.Response], url: str = "http://api"
) -> FraudApiClient:
    return FraudApiClient(url, transport=httpx.MockTransport(handler))


def test_predict_sends_the_transaction_and_parses_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    body = transaction_from_values(FRAUD.values)
    with _client(handler) as client:
        result = client.predict(body)
    assert seen[0].method == "POST" and seen[0].url.path == "/predict"
    assert json.loads(seen[0].content) == body
    assert result.prediction.probability == 0.875
    assert result.prediction.is_fraud is True
    assert result.prediction.threshold == 0.42
    assert result.prediction.model_version == "abc"
    assert result.prediction.explanation is None
    assert result.roundtrip_ms >= 0


def test_stage_path_of_a_deployed_api_is_kept() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"status": "ok", "model_version": "abc"})

    with _client(handler, "https://abc.execute-api.eu-west-1.amazonaws.com/prod") as client:
        client.health()
    assert paths == ["/prod/health"]


def test_explain_flag_is_sent_and_contributions_parsed() -> None:
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        contributions = {
            "features": [
                {"name": "amount", "value": 181.0, "contribution": 2.5},
                {"name": "type", "value": "TRANSFER", "contribution": -0.75},
            ],
            "bias": -1.25,
        }
        return httpx.Response(200, json={**ANSWER, "contributions": contributions})

    with _client(handler) as client:
        result = client.predict(transaction_from_values(FRAUD.values), explain=True)
    assert sent[0]["explain"] is True
    explanation = result.prediction.explanation
    assert explanation is not None
    assert [(c.name, c.contribution, c.value) for c in explanation.features] == [
        ("amount", 2.5, 181.0),
        ("type", -0.75, "TRANSFER"),
    ]
    assert explanation.bias == -1.25


def test_explanation_as_a_list_with_a_bias_entry() -> None:
    explanation = parse_explanation(
        [{"name": "amount", "contribution": 1.0}, {"name": "bias", "contribution": -2.0}]
    )
    assert explanation is not None
    assert [c.name for c in explanation.features] == ["amount"]
    assert explanation.bias == -2.0
    assert parse_explanation("not a list") is None


def test_batch_keeps_request_order_and_takes_version_from_the_envelope() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["transactions"]
        predictions = [
            {"probability_fraud": i / 10, "is_fraud": i >= 2, "threshold": 0.2}
            for i in range(len(items))
        ]
        return httpx.Response(200, json={"predictions": predictions, "model_version": "v9"})

    rows = [transaction_from_values(LEGITIMATE.values)] * 3
    with _client(handler) as client:
        result = client.predict_batch(rows)
    assert [p.probability for p in result.predictions] == [0.0, 0.1, 0.2]
    assert [p.is_fraud for p in result.predictions] == [False, False, True]
    assert result.model_version == "v9"
    assert all(p.model_version == "v9" for p in result.predictions)


def test_422_carries_the_api_reason_and_fields() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={
                "error": "invalid transaction",
                "details": [{"field": "amount", "problem": "must be >= 0, got -5"}],
            },
        )

    with _client(handler) as client, pytest.raises(ApiRejected) as info:
        client.predict(transaction_from_values(LEGITIMATE.values))
    error = info.value
    assert error.status == 422
    assert error.reason == "invalid transaction"
    assert error.details == (ProblemDetail("amount", "must be >= 0, got -5"),)
    assert "`amount`: must be >= 0, got -5" in error.describe()


def test_503_is_a_server_error_with_the_reason() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "model not loaded: checksum mismatch"})

    with _client(handler) as client, pytest.raises(ApiServerError) as info:
        client.health()
    assert info.value.status == 503
    assert "checksum mismatch" in info.value.describe()


def test_non_json_error_body_is_kept_as_the_reason() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad Gateway from the proxy")

    with _client(handler) as client, pytest.raises(ApiServerError) as info:
        client.model_card()
    assert info.value.reason == "Bad Gateway from the proxy"


def test_connection_refused_is_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with _client(handler) as client, pytest.raises(ApiUnreachable) as info:
        client.health()
    assert info.value.status is None
    assert "connection refused" in info.value.describe()


@pytest.mark.parametrize(
    "answer",
    [
        {**ANSWER, "probability_fraud": "0.5"},
        {**ANSWER, "probability_fraud": True},
        {**ANSWER, "is_fraud": 1},
        {k: v for k, v in ANSWER.items() if k != "threshold"},
        ["not", "an", "object"],
    ],
)
def test_malformed_answers_are_bad_responses(answer: object) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    with _client(handler) as client, pytest.raises(ApiBadResponse):
        client.predict(transaction_from_values(LEGITIMATE.values))


def test_batch_with_the_wrong_number_of_predictions_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"predictions": [ANSWER], "model_version": "abc"})

    with _client(handler) as client, pytest.raises(ApiBadResponse, match="2 predictions"):
        client.predict_batch([transaction_from_values(LEGITIMATE.values)] * 2)


def test_model_card_reads_limits_and_metrics() -> None:
    card_json = {
        "model_version": "abc",
        "threshold": 0.42,
        "metrics": {"pr_auc": 0.9},
        "created_at": "2024-01-01T00:00:00Z",
        "limits": {"max_batch": 250},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/model"
        return httpx.Response(200, json=card_json)

    with _client(handler) as client:
        card = client.model_card()
    assert (card.version, card.threshold, card.max_batch) == ("abc", 0.42, 250)
    assert card.metrics == {"pr_auc": 0.9}


def test_client_fields_match_the_service_schema() -> None:
    # The client does not import service/ at run time; this keeps its copy of the field list honest.
    from service import schema

    assert TRANSACTION_FIELDS == schema.MODEL_INPUTS
    from client.presets import TRANSACTION_TYPES

    assert TRANSACTION_TYPES == schema.TRANSACTION_TYPES


def test_charts_build_valid_vega_lite() -> None:
    # Altair validates against the Vega-Lite schema in to_dict(): a wrong encoding fails here.
    from client import charts
    from client.api import Contribution, Explanation

    bar = charts.probability_bar(0.7, 0.42).to_dict()
    assert any(layer["mark"].get("type") == "rule" for layer in bar["layer"])
    histogram = charts.probability_histogram([0.01, 0.2, 0.95], 0.42).to_dict()
    assert len(histogram["layer"]) == 2
    explanation = Explanation((Contribution("amount", 2.0, 181.0), Contribution("type", -1.0)))
    spec = charts.contributions_chart(explanation).to_dict()
    assert spec["encoding"]["y"]["sort"] == ["amount", "type"]
    # A band per feature: a fixed pixel height collapsed every bar into one row in Streamlit.
    assert spec["height"] == {"step": 28}

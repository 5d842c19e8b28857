"""client/batch.py against httpx.MockTransport: chunking, rejected rows, nothing dropped.

The mock API rejects negative amounts the way the service documents it (422 naming
``transactions[i].field``); the live-service tests in test_client_app.py cover the real thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from client import batch
from client.api import FraudApiClient

HEADER = (
    "step,type,amount,nameOrig,oldbalanceOrg,newbalanceOrig,nameDest,"
    "oldbalanceDest,newbalanceDest,isFraud,isFlaggedFraud"
)


def _csv(amounts: list[str]) -> bytes:
    lines = [HEADER]
    for i, amount in enumerate(amounts):
        lines.append(f"{i + 1},TRANSFER,{amount},C{i},1000.00,0.00,C9{i},0.00,0.00,{i % 2},0")
    return ("\n".join(lines) + "\n").encode()


def _mock_api(
    requests: list[list[dict]], *, max_batch: int = 1000, all_errors: bool = True
) -> Callable[[httpx.Request], httpx.Response]:
    """A fake /predict: amount/1e4 as probability; names each bad item like the service does."""

    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["transactions"]
        requests.append(items)
        if len(items) > max_batch:
            return httpx.Response(
                422,
                json={
                    "error": "batch too large",
                    "details": [
                        {
                            "field": "transactions",
                            "problem": f"must contain at most {max_batch} transactions",
                        }
                    ],
                },
            )
        details = []
        for i, item in enumerate(items):
            amount = item["amount"]
            if not isinstance(amount, int | float):
                details.append(
                    {"field": f"transactions[{i}].amount", "problem": "expected a number"}
                )
            elif amount < 0:
                details.append({"field": f"transactions[{i}].amount", "problem": "must be >= 0"})
        if details:
            body = {"error": "invalid batch", "details": details if all_errors else details[:1]}
            return httpx.Response(422, json=body)
        predictions = [
            {"probability_fraud": min(t["amount"] / 1e4, 1.0), "is_fraud": t["amount"] >= 5000}
            for t in items
        ]
        for p in predictions:
            p["threshold"] = 0.5
        return httpx.Response(200, json={"predictions": predictions, "model_version": "mock"})

    return handler


def _score(data: bytes, requests: list[list[dict]], **kwargs) -> tuple[batch.BatchOutcome, object]:
    frame = batch.read_csv(data)
    max_batch = kwargs.pop("max_batch", 1000)
    client = FraudApiClient(
        "http://api", transport=httpx.MockTransport(_mock_api(requests, **kwargs))
    )
    progress: list[tuple[int, int]] = []
    with client:
        outcome = batch.score_transactions(
            client,
            batch.transactions_from(frame),
            max_batch=max_batch,
            progress=lambda d, t: progress.append((d, t)),
        )
    return outcome, (frame, progress)


def test_chunks_respect_max_batch_and_report_progress() -> None:
    requests: list[list[dict]] = []
    outcome, (frame, progress) = _score(_csv(["100.5"] * 7), requests, max_batch=3)
    assert [len(r) for r in requests] == [3, 3, 1]
    assert progress == [(3, 7), (6, 7), (7, 7)]
    assert outcome.scored == 7 and not outcome.rejections
    scored = batch.scored_frame(frame, outcome)
    assert scored[batch.PROBABILITY_COLUMN].tolist() == pytest.approx([0.01005] * 7)
    assert scored["nameOrig"].tolist()[:2] == ["C0", "C1"]  # input columns are kept


@pytest.mark.parametrize("all_errors", [True, False])
def test_rejected_rows_are_listed_and_the_rest_scored(all_errors: bool) -> None:
    requests: list[list[dict]] = []
    amounts = ["100", "-5", "6000", "abc", "", "200"]
    outcome, (frame, _) = _score(_csv(amounts), requests, max_batch=4, all_errors=all_errors)
    # Rows 2, 4 (bad amounts in chunk 1) and 5 (empty amount in chunk 2) are rejected.
    assert outcome.rejected_rows == [2, 4, 5]
    assert {r.row: r.field for r in outcome.rejections} == {2: "amount", 4: "amount", 5: "amount"}
    assert {r.row: r.problem for r in outcome.rejections}[2] == "must be >= 0"
    assert sorted(i + 1 for i in outcome.predictions) == [1, 3, 6]
    assert outcome.flagged == 1  # the 6000 row
    # Every row is either scored or rejected with a reason, never both, never neither.
    scored = batch.scored_frame(frame, outcome)
    has_probability = scored[batch.PROBABILITY_COLUMN].notna()
    has_reason = scored[batch.REASON_COLUMN] != ""
    assert (has_probability ^ has_reason).all()
    # The bad cells were sent as they were, so the API (not the client) judged them.
    sent_amounts = [t["amount"] for r in requests for t in r]
    assert "abc" in sent_amounts and None in sent_amounts and 100.0 in sent_amounts


def test_a_lower_service_limit_rechunks() -> None:
    requests: list[list[dict]] = []
    # The client believes the limit is 5; the service allows 2 and says so.
    frame = batch.read_csv(_csv(["1"] * 5))
    transport = httpx.MockTransport(_mock_api(requests, max_batch=2))
    with FraudApiClient("http://api", transport=transport) as client:
        outcome = batch.score_transactions(client, batch.transactions_from(frame), max_batch=5)
    assert outcome.scored == 5 and not outcome.rejections
    assert [len(r) for r in requests] == [5, 2, 2, 1]


def test_a_batch_level_422_naming_no_row_lists_every_row_with_the_reason() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid request", "details": [{"field": "body", "problem": "nope"}]}
        return httpx.Response(422, json=body)

    frame = batch.read_csv(_csv(["1"] * 3))
    with FraudApiClient("http://api", transport=httpx.MockTransport(handler)) as client:
        outcome = batch.score_transactions(client, batch.transactions_from(frame))
    assert outcome.rejected_rows == [1, 2, 3]
    assert all("`body`: nope" in r.problem for r in outcome.rejections)
    assert outcome.scored == 0


def test_a_413_splits_the_chunk() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["transactions"]
        sizes.append(len(items))
        if len(items) > 2:
            return httpx.Response(413, json={"error": "request body too large", "details": []})
        answer = {"probability_fraud": 0.1, "is_fraud": False, "threshold": 0.5}
        return httpx.Response(
            200, json={"predictions": [answer] * len(items), "model_version": "m"}
        )

    frame = batch.read_csv(_csv(["1"] * 5))
    with FraudApiClient("http://api", transport=httpx.MockTransport(handler)) as client:
        outcome = batch.score_transactions(client, batch.transactions_from(frame), max_batch=5)
    assert outcome.scored == 5 and not outcome.rejections
    assert sizes == [5, 2, 3, 1, 2]  # halves until the body fits


def test_api_down_midway_lists_the_unscored_rows() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] > 1:
            raise httpx.ConnectError("connection refused", request=request)
        items = json.loads(request.content)["transactions"]
        answer = {"probability_fraud": 0.1, "is_fraud": False, "threshold": 0.5}
        return httpx.Response(
            200, json={"predictions": [answer] * len(items), "model_version": "m"}
        )

    frame = batch.read_csv(_csv(["1"] * 5))
    with FraudApiClient("http://api", transport=httpx.MockTransport(handler)) as client:
        outcome = batch.score_transactions(client, batch.transactions_from(frame), max_batch=2)
    assert outcome.error is not None
    assert sorted(i + 1 for i in outcome.predictions) == [1, 2]
    assert outcome.rejected_rows == [3, 4, 5]
    assert all("unreachable" in r.problem or "refused" in r.problem for r in outcome.rejections)


def test_missing_columns_and_empty_files_are_clear_errors() -> None:
    with pytest.raises(batch.CsvError, match="amount"):
        batch.read_csv(b"step,type\n1,TRANSFER\n")
    with pytest.raises(batch.CsvError, match="no rows"):
        batch.read_csv((HEADER + "\n").encode())


def test_cells_become_json_values() -> None:
    frame = batch.read_csv(_csv(["181.25"]))
    (transaction,) = batch.transactions_from(frame)
    assert transaction == {
        "type": "TRANSFER",
        "step": 1,
        "amount": 181.25,
        "oldbalanceOrg": 1000.0,
        "newbalanceOrig": 0.0,
        "oldbalanceDest": 0.0,
        "newbalanceDest": 0.0,
    }

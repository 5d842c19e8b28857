"""The binary tensor data extension (Triton's), byte by byte through Starlette's TestClient.

Well-formed binary requests score like JSON ones; binary outputs decode with tritonclient's own
``InferResult``; every malformed body (sizes that do not add up, truncated bodies, BYTES elements
running past the end, a header length outside the body) is a 400 naming the tensor.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lambda_events import FakeLambdaContext, http_api_event
from service_model import build_model, example_rows
from starlette.testclient import TestClient
from tritonclient.http import InferResult

from service import schema
from service.app import create_app
from service.lambda_app import build_handler
from service.model import LoadedModel, load_model
from service.settings import Settings

INFER = "/v2/models/fraudlite/infer"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("v2bin") / "model.onnx", threshold=0.5)


@pytest.fixture(scope="module")
def client(model_path: Path) -> TestClient:
    path = model_path
    settings = Settings(model_uri=str(path), max_batch=50)
    model = load_model(settings)
    assert isinstance(model, LoadedModel)
    return TestClient(create_app(settings, model))


def encode(name: str, values: list[Any]) -> bytes:
    if name == "type":
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    return np.array(values, "<f4").tobytes()


def binary_request(
    rows: list[dict[str, Any]], parameters: dict[str, Any] | None = None, **extra: Any
) -> tuple[dict[str, Any], list[bytes]]:
    """The JSON header and raw chunks of an all-binary request for ``rows``."""
    inputs, chunks = [], []
    for name in schema.MODEL_INPUTS:
        chunk = encode(name, [row[name] for row in rows])
        chunks.append(chunk)
        inputs.append(
            {
                "name": name,
                "shape": [len(rows)],
                "datatype": "BYTES" if name == "type" else "FP32",
                "parameters": {"binary_data_size": len(chunk)},
            }
        )
    header = {"inputs": inputs, **extra}
    if parameters is not None:
        header["parameters"] = parameters
    return header, chunks


def post(client: TestClient, header: dict[str, Any], chunks: list[bytes], **headers: str) -> Any:
    text = json.dumps(header).encode()
    length = headers.pop("length", str(len(text)))
    return client.post(
        INFER,
        content=text + b"".join(chunks),
        headers={"Inference-Header-Content-Length": length, **headers},
    )


def json_scores(client: TestClient, rows: list[dict[str, Any]]) -> dict[str, Any]:
    inputs = [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": "BYTES" if name == "type" else "FP32",
            "data": [row[name] for row in rows],
        }
        for name in schema.MODEL_INPUTS
    ]
    response = client.post(INFER, json={"inputs": inputs})
    assert response.status_code == 200, response.text
    return {o["name"]: o["data"] for o in response.json()["outputs"]}


def test_binary_inputs_json_outputs_score_like_json(client: TestClient) -> None:
    rows = example_rows(12, seed=40)
    response = post(client, *binary_request(rows))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    assert outputs == json_scores(client, rows)


@pytest.mark.parametrize("content_type", [None, "application/octet-stream"])
def test_binary_outputs_have_the_extension_layout(
    client: TestClient, content_type: str | None
) -> None:
    rows = example_rows(7, seed=41)
    header, chunks = binary_request(rows, parameters={"binary_data_output": True}, id="b-1")
    extra = {"content-type": content_type} if content_type else {}
    response = post(client, header, chunks, **extra)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    head = json.loads(response.content[:length])
    assert head["id"] == "b-1"
    sizes = [o["parameters"]["binary_data_size"] for o in head["outputs"]]
    assert sizes == [7 * 4, 7 * 8]  # FP32 probability, INT64 label
    assert len(response.content) == length + sum(sizes)
    result = InferResult.from_response_body(response.content, header_length=length)
    expected = json_scores(client, rows)
    np.testing.assert_array_equal(
        result.as_numpy("probability"), np.array(expected["probability"], np.float32)
    )
    assert result.as_numpy("label").dtype == np.int64
    assert result.as_numpy("label").tolist() == expected["label"]


def test_each_output_chooses_binary_or_json(client: TestClient) -> None:
    rows = example_rows(3, seed=42)
    outputs = [
        {"name": "label", "parameters": {"binary_data": True}},
        {"name": "probability", "parameters": {"binary_data": False}},
    ]
    response = post(client, *binary_request(rows, outputs=outputs))
    length = int(response.headers["inference-header-content-length"])
    head = json.loads(response.content[:length])
    label, probability = head["outputs"]
    assert label["parameters"] == {"binary_data_size": 24} and "data" not in label
    assert len(probability["data"]) == 3
    assert (
        np.frombuffer(response.content[length:], "<i8").tolist()
        == json_scores(client, rows)["label"]
    )


def _truncate(header: dict[str, Any], chunks: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    return header, [*chunks[:-1], chunks[-1][:-3]]


def _extra_bytes(header: dict[str, Any], chunks: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    return header, [*chunks, b"\x00" * 8]


def _size_off(header: dict[str, Any], chunks: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    header["inputs"][2]["parameters"]["binary_data_size"] -= 2
    return header, chunks


def _bytes_past_end(
    header: dict[str, Any], chunks: list[bytes]
) -> tuple[dict[str, Any], list[bytes]]:
    first = struct.pack("<I", 500) + chunks[0][4:]  # element 0 claims 500 bytes
    return header, [first, *chunks[1:]]


def _not_utf8(header: dict[str, Any], chunks: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    bad = struct.pack("<I", 2) + b"\xff\xfe"
    header["inputs"][0]["parameters"]["binary_data_size"] += len(bad) - len(chunks[0])
    return header, [bad, *chunks[1:]]


def _short_bytes(header: dict[str, Any], chunks: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    header["inputs"][0]["shape"] = [2]  # two BYTES elements declared, the chunk holds one
    return header, chunks


def _negative_size(
    header: dict[str, Any], chunks: list[bytes]
) -> tuple[dict[str, Any], list[bytes]]:
    header["inputs"][1]["parameters"]["binary_data_size"] = -4
    return header, chunks


MALFORMED = {
    "truncated body": (
        _truncate,
        "newbalanceDest",
        "4 bytes but only 1 bytes of binary data are left",
    ),
    "bytes left over": (_extra_bytes, "newbalanceDest", "8 bytes more than the inputs"),
    "size not a multiple of FP32": (_size_off, "amount", "shape needs 1 FP32 elements"),
    "BYTES element past the end": (_bytes_past_end, "type", "element 0 declares 500 bytes"),
    "BYTES not UTF-8": (_not_utf8, "type", "element 0 is not UTF-8"),
    "fewer BYTES elements than the shape": (_short_bytes, "type", "runs past the end"),
    "negative size": (_negative_size, "step", "non-negative integer"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_binary_is_400_naming_the_tensor(client: TestClient, case: str) -> None:
    mutate, tensor, expected = MALFORMED[case]
    header, chunks = mutate(*binary_request(example_rows(1, seed=43)))
    response = post(client, header, chunks)
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert expected in message
    assert f"'{tensor}'" in message or tensor in message


@pytest.mark.parametrize("length", ["-1", "abc", "100000"])
def test_header_length_outside_the_body_is_400(client: TestClient, length: str) -> None:
    header, chunks = binary_request(example_rows(1, seed=44))
    response = post(client, header, chunks, length=length)
    assert response.status_code == 400
    assert "Inference-Header-Content-Length" in response.json()["error"]


def test_header_length_cutting_the_json_is_malformed_json(client: TestClient) -> None:
    header, chunks = binary_request(example_rows(1, seed=45))
    response = post(client, header, chunks, length="10")
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]


def test_octet_stream_needs_the_header_length(client: TestClient) -> None:
    header, chunks = binary_request(example_rows(1, seed=46))
    body = json.dumps(header).encode() + b"".join(chunks)
    response = client.post(
        INFER, content=body, headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 415


def test_binary_through_api_gateway_and_mangum(model_path: Path, client: TestClient) -> None:
    """Behind API Gateway (HTTP API 2.0) a binary body arrives base64-encoded and a binary
    answer leaves base64-encoded: the same bytes as uvicorn's."""
    handler = build_handler({"FRAUD_MODEL_URI": str(model_path)}, setup_logging=False)
    rows = example_rows(4, seed=47)
    header, chunks = binary_request(rows, parameters={"binary_data_output": True})
    text = json.dumps(header).encode()
    event = http_api_event("POST", INFER)
    event["headers"].pop("content-type")  # tritonclient sends none
    event["headers"]["inference-header-content-length"] = str(len(text))
    event["body"] = base64.b64encode(text + b"".join(chunks)).decode()
    event["isBase64Encoded"] = True
    event["pathParameters"] = {"model": "fraudlite"}
    answer = handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 200, answer
    assert answer["isBase64Encoded"] is True
    assert answer["headers"]["content-type"] == "application/octet-stream"
    content = base64.b64decode(answer["body"])
    local = post(client, header, chunks)
    assert content == local.content
    length = int(answer["headers"]["inference-header-content-length"])
    result = InferResult.from_response_body(content, header_length=length)
    assert result.as_numpy("label").tolist() == json_scores(client, rows)["label"]

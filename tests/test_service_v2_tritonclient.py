"""A real Open Inference Protocol client, tritonclient[http] (PyPI), against uvicorn on 127.0.0.1.

The client builds its requests from the server's model metadata, as a generic V2 client would,
and sends binary tensors (its default: the binary tensor data extension, inputs and outputs) or
JSON tensors (``binary_data=False``). Its probabilities must equal POST /predict's for the same
transactions in the same batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from live_server import serve
from service_model import build_model, example_rows
from tritonclient.utils import InferenceServerException

from service import schema
from service.app import create_app
from service.model import LoadedModel, load_model
from service.settings import Settings

NUMPY_TYPES = {"BYTES": np.object_, "FP32": np.float32}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    path = build_model(tmp_path_factory.mktemp("tritonclient") / "model.onnx", threshold=0.5)
    loaded = load_model(Settings(model_uri=str(path)))
    assert isinstance(loaded, LoadedModel)
    return loaded


@pytest.fixture(scope="module")
def address(model: LoadedModel) -> Iterator[str]:
    """uvicorn serving the app on a free 127.0.0.1 port, in a background thread."""
    app = create_app(Settings(model_uri=model.source), model)
    with serve(app) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def client(address: str) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=address, connection_timeout=10, network_timeout=30)
    try:
        yield client
    finally:
        client.close()


def infer_inputs(
    metadata: dict[str, Any], rows: list[dict[str, Any]], binary: bool = False
) -> list[Any]:
    """InferInputs for ``rows``, named, typed and shaped as the model metadata says; in JSON or,
    with ``binary``, as raw bytes (tritonclient's default)."""
    inputs = []
    for tensor in metadata["inputs"]:
        assert tensor["shape"] == [-1]
        values = np.array([row[tensor["name"]] for row in rows], NUMPY_TYPES[tensor["datatype"]])
        infer_input = triton.InferInput(tensor["name"], [len(rows)], tensor["datatype"])
        infer_input.set_data_from_numpy(values, binary_data=binary)
        inputs.append(infer_input)
    return inputs


def predict(address: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = {"transactions": rows} if len(rows) > 1 else rows[0]
    response = httpx.post(f"http://{address}/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    return answer["predictions"] if len(rows) > 1 else [answer]


def test_server_and_model_readiness(
    client: triton.InferenceServerClient, model: LoadedModel
) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("fraudlite")
    assert client.is_model_ready("fraudlite", model_version=model.version)
    assert not client.is_model_ready("fraudlite", model_version="0" * 16)
    assert not client.is_model_ready("another-model")


def test_metadata(client: triton.InferenceServerClient, model: LoadedModel) -> None:
    server = client.get_server_metadata()
    assert server == {"name": "fraudlite", "version": "0.1.0", "extensions": ["binary_tensor_data"]}
    metadata = client.get_model_metadata("fraudlite")
    assert metadata == client.get_model_metadata("fraudlite", model_version=model.version)
    assert metadata["name"] == "fraudlite"
    assert metadata["versions"] == [model.version]
    assert metadata["platform"] == "onnxruntime_onnx"
    assert [(t["name"], t["datatype"]) for t in metadata["inputs"]] == [
        (name, "BYTES" if name == "type" else "FP32") for name in model.input_names
    ]
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["outputs"]] == [
        ("probability", "FP32", [-1]),
        ("label", "INT64", [-1]),
    ]
    with pytest.raises(InferenceServerException) as unknown:
        client.get_model_metadata("another-model")
    assert unknown.value.status() == "404"
    assert "unknown model 'another-model'" in unknown.value.message()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("n", [1, 40])
def test_infer_equals_predict(
    client: triton.InferenceServerClient, address: str, model: LoadedModel, n: int, binary: bool
) -> None:
    rows = example_rows(n, seed=30 + n)
    metadata = client.get_model_metadata("fraudlite")
    outputs = [
        triton.InferRequestedOutput("probability", binary_data=binary),
        triton.InferRequestedOutput("label", binary_data=binary),
    ]
    result = client.infer(
        "fraudlite",
        infer_inputs(metadata, rows, binary),
        outputs=outputs,
        request_id=f"batch-{n}",
        model_version=model.version,
    )
    response = result.get_response()
    assert response["id"] == f"batch-{n}"
    for output in response["outputs"]:  # binary outputs carry their size instead of data
        assert ("data" in output) is not binary
        assert ("binary_data_size" in output.get("parameters", {})) is binary
    assert response["model_version"] == model.version
    probability = result.as_numpy("probability")
    label = result.as_numpy("label")
    assert probability.dtype == np.float32 and probability.shape == (n,)
    assert label.dtype == np.int64 and label.shape == (n,)
    # Same transactions, same batch composition: the same float32 scores, exactly.
    expected = predict(address, rows)
    np.testing.assert_array_equal(
        probability, np.array([p["probability_fraud"] for p in expected], np.float32)
    )
    np.testing.assert_array_equal(label, [int(p["is_fraud"]) for p in expected])
    if n > 1:
        assert 0 < label.sum() < n  # both classes present, so the labels are really compared


def test_defaults_binary_inputs_and_outputs(
    client: triton.InferenceServerClient, address: str
) -> None:
    """tritonclient with no options at all: set_data_from_numpy(arr), no outputs named."""
    rows = example_rows(25, seed=5)
    inputs = []
    for name in ("type", *(n for n in schema.MODEL_INPUTS if n != "type")):
        kind = "BYTES" if name == "type" else "FP32"
        tensor = triton.InferInput(name, [len(rows)], kind)
        tensor.set_data_from_numpy(np.array([row[name] for row in rows], NUMPY_TYPES[kind]))
        inputs.append(tensor)
    result = client.infer("fraudlite", inputs)
    outputs = result.get_response()["outputs"]
    assert [o["name"] for o in outputs] == ["probability", "label"]
    assert all("data" not in o and o["parameters"]["binary_data_size"] > 0 for o in outputs)
    expected = predict(address, rows)
    np.testing.assert_array_equal(
        result.as_numpy("probability"),
        np.array([p["probability_fraud"] for p in expected], np.float32),
    )
    np.testing.assert_array_equal(result.as_numpy("label"), [int(p["is_fraud"]) for p in expected])


def test_selected_output_and_default_outputs(client: triton.InferenceServerClient) -> None:
    rows = example_rows(3, seed=3)
    inputs = infer_inputs(client.get_model_metadata("fraudlite"), rows)
    only = client.infer(
        "fraudlite", inputs, outputs=[triton.InferRequestedOutput("label", binary_data=False)]
    )
    assert [o["name"] for o in only.get_response()["outputs"]] == ["label"]
    assert only.as_numpy("probability") is None
    # No outputs named: tritonclient asks for every output in binary.
    every = client.infer("fraudlite", inputs)
    assert all("data" not in o for o in every.get_response()["outputs"])
    np.testing.assert_array_equal(every.as_numpy("label"), only.as_numpy("label"))
    assert every.as_numpy("probability").shape == (3,)


def test_client_mistakes_are_4xx_exceptions(client: triton.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("fraudlite")
    rows = example_rows(2, seed=4)
    rows[1]["amount"] = -10.0
    with pytest.raises(InferenceServerException) as negative:
        client.infer("fraudlite", infer_inputs(metadata, rows))
    assert negative.value.status() == "400"
    assert "input 'amount' data[1]: must not be negative" in negative.value.message()
    # The same mistake in binary tensors: the same wording.
    with pytest.raises(InferenceServerException) as binary:
        client.infer("fraudlite", infer_inputs(metadata, rows, binary=True))
    assert binary.value.status() == "400"
    assert "input 'amount' data[1]: must not be negative" in binary.value.message()
    unknown_type = triton.InferInput("type", [1], "BYTES")
    unknown_type.set_data_from_numpy(np.array(["WIRE"], dtype=np.object_))
    one = infer_inputs(metadata, rows[:1], binary=True)
    with pytest.raises(InferenceServerException) as wire:
        client.infer("fraudlite", [unknown_type, *one[1:]])
    assert "unknown transaction type 'WIRE'" in wire.value.message()
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("fraudlite", infer_inputs(metadata, rows[:1]), model_version="v10")
    assert unknown.value.status() == "404"

"""Settings come from FRAUD_* variables in one place, with checked values."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.model_uri is None
    assert settings.model_sha256 is None
    assert settings.threshold is None
    assert settings.max_batch == 1000
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.log_level == "INFO"
    assert (settings.ort_intra_op_threads, settings.ort_inter_op_threads) == (1, 1)
    assert settings.ort_execution_mode == "sequential"
    assert settings.ort_graph_optimization == "all"
    assert settings.s3_endpoint_url is None
    assert settings.api_base_path == "/"


def test_every_variable_is_read() -> None:
    sha = "AB" * 32
    settings = Settings.from_env(
        {
            "FRAUD_MODEL_URI": "s3://bucket/models/model.onnx",
            "FRAUD_MODEL_SHA256": sha,
            "FRAUD_THRESHOLD": "0.42",
            "FRAUD_MAX_BATCH": "50",
            "FRAUD_MAX_BODY_BYTES": "2048",
            "FRAUD_LOG_LEVEL": "debug",
            "FRAUD_ORT_INTRA_OP_THREADS": "2",
            "FRAUD_ORT_INTER_OP_THREADS": "0",
            "FRAUD_ORT_EXECUTION_MODE": "PARALLEL",
            "FRAUD_ORT_GRAPH_OPTIMIZATION": "basic",
            "FRAUD_S3_ENDPOINT_URL": "http://127.0.0.1:5000",
            "FRAUD_MODEL_CACHE_DIR": "/tmp/x",
            "FRAUD_API_BASE_PATH": "/prod",
            "UNRELATED": "ignored",
        }
    )
    assert settings == Settings(
        model_uri="s3://bucket/models/model.onnx",
        model_sha256=sha.lower(),
        threshold=0.42,
        max_batch=50,
        max_body_bytes=2048,
        log_level="DEBUG",
        ort_intra_op_threads=2,
        ort_inter_op_threads=0,
        ort_execution_mode="parallel",
        ort_graph_optimization="basic",
        s3_endpoint_url="http://127.0.0.1:5000",
        model_cache_dir="/tmp/x",
        api_base_path="/prod",
    )


def test_blank_values_mean_default() -> None:
    assert Settings.from_env({"FRAUD_THRESHOLD": " ", "FRAUD_MAX_BATCH": ""}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FRAUD_THRESHOLD", "high"),
        ("FRAUD_THRESHOLD", "1.5"),
        ("FRAUD_THRESHOLD", "nan"),
        ("FRAUD_MAX_BATCH", "0"),
        ("FRAUD_MAX_BATCH", "ten"),
        ("FRAUD_MAX_BODY_BYTES", "-1"),
        ("FRAUD_MODEL_SHA256", "abc"),
        ("FRAUD_LOG_LEVEL", "LOUD"),
        ("FRAUD_ORT_INTRA_OP_THREADS", "-2"),
        ("FRAUD_ORT_EXECUTION_MODE", "async"),
        ("FRAUD_ORT_GRAPH_OPTIMIZATION", "max"),
        ("FRAUD_API_BASE_PATH", "prod"),
    ],
)
def test_bad_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert raised.value.variable == variable
    assert variable in str(raised.value)

"""Locust load test of POST /predict: a realistic mix against fraudlite or the baseline.

Mix (task weights): single transactions 85, batches of 10 transactions 8, batches of 100 2,
invalid requests 5. Invalid requests count as successes only when answered with the expected
4xx. Users send back to back (no think time): a closed loop, so requests/s is the capacity at
that many concurrent clients.

The host is Locust's ``--host`` (a local server or a deployment's API Gateway URL, stage path
included). Options added here (also as environment variables):

- ``--payload-shape fraudlite|baseline`` (``FRAUD_BENCH_SHAPE``): the request body shape. The
  baseline takes the original 11-field body and has no batch request, so a batch there is its
  transactions sent one request each, timed as one Locust entry: what its clients had to do.
- ``--transactions FILE`` (``FRAUD_BENCH_TRANSACTIONS``): JSON list of raw transactions;
  by default 2,000 are generated with the built-in PaySim-style generator.
- ``--raw-times FILE``: write every response time (ms, unrounded) per entry name as JSON when
  Locust quits, for exact percentiles and histograms (Locust's own stats round them).
- ``--auth none|iam|jwt|apikey`` (``FRAUD_API_AUTH``) with ``--api-token`` (``FRAUD_API_TOKEN``),
  ``--api-key`` (``FRAUD_API_KEY``), ``--api-region`` (``FRAUD_API_REGION``): authenticate every
  request as client/auth.py does (IAM: each body SigV4-signed with botocore; issue 13).

Example: ``locust -f benchmarks/locustfile.py --headless -u 10 -r 10 -t 30s -H http://127.0.0.1:8000``
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from geventhttpclient import HTTPClient
from locust import FastHttpUser, constant, events, task

from benchmarks.payloads import (
    SHAPES,
    InvalidCase,
    batch_body,
    invalid_cases,
    load_transactions,
    pick,
    sample_transactions,
    single_body,
)
from client.auth import MODES, ApiAuth

PREDICT = "/predict"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
DEFAULT_SAMPLE = 2000


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument(
        "--payload-shape",
        choices=SHAPES,
        default="fraudlite",
        env_var="FRAUD_BENCH_SHAPE",
        help="request body shape: fraudlite (raw fields) or baseline (the original 11 fields)",
    )
    parser.add_argument(
        "--transactions",
        default="",
        env_var="FRAUD_BENCH_TRANSACTIONS",
        help="JSON list of raw transactions (default: generated)",
    )
    parser.add_argument(
        "--raw-times", default="", help="write unrounded response times per entry to this JSON"
    )
    # --- authentication (issue 13): the deployment's AuthMode, as client/auth.py does it ---
    parser.add_argument("--auth", choices=MODES, default="none", env_var="FRAUD_API_AUTH")
    parser.add_argument("--api-token", default="", env_var="FRAUD_API_TOKEN", help="JWT bearer")
    parser.add_argument("--api-key", default="", env_var="FRAUD_API_KEY", help="X-API-Key value")
    parser.add_argument(
        "--api-region", default="", env_var="FRAUD_API_REGION", help="AWS region (IAM)"
    )


def auth_from(options: Any) -> ApiAuth:
    """The requests' authentication from Locust's options (none without options)."""
    names = {
        "FRAUD_API_AUTH": "auth",
        "FRAUD_API_TOKEN": "api_token",
        "FRAUD_API_KEY": "api_key",
        "FRAUD_API_REGION": "api_region",
    }
    return ApiAuth.from_env({var: getattr(options, attr, "") or "" for var, attr in names.items()})


@lru_cache(maxsize=4)
def workload(path: str) -> list[dict[str, Any]]:
    """The transactions to send: from ``path``, or generated when it is empty."""
    return load_transactions(Path(path)) if path else sample_transactions(DEFAULT_SAMPLE, seed=0)


class ResponseTimes:
    """Unrounded response times (ms) per entry name, collected from Locust's request event."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)

    def record(self, name: str, response_time: float, exception: Any = None, **_: Any) -> None:
        if exception is None:
            self.times[name].append(float(response_time))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.times))


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.raw_times:
        return
    times = ResponseTimes()
    environment.events.request.add_listener(times.record)
    environment.events.quitting.add_listener(lambda **__: times.save(Path(options.raw_times)))


class PredictUser(FastHttpUser):
    """One client scoring transactions back to back."""

    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.shape = options.payload_shape if options else "fraudlite"
        self.transactions = workload(options.transactions if options else "")
        self.rng = random.Random()
        self._plain: HTTPClient | None = None
        self.auth = auth_from(options)
        self.predict_url = (self.host or "").rstrip("/") + PREDICT

    def encoded(self, body: Any) -> tuple[bytes, dict[str, str]]:
        """The JSON bytes to send and their headers, authenticated (IAM signs these bytes)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        signed = self.auth.headers("POST", self.predict_url, data, JSON_HEADERS["Content-Type"])
        return data, {**JSON_HEADERS, **signed}

    def choose_single(self) -> dict[str, Any]:
        """A valid single-transaction body in the target's shape."""
        return single_body(pick(self.rng, self.transactions, 1)[0], self.shape)

    def choose_invalid(self) -> InvalidCase:
        """A client mistake in the target's shape, with the status it must get."""
        return self.rng.choice(invalid_cases(self.shape, pick(self.rng, self.transactions, 1)[0]))

    @task(85)
    def single(self) -> None:
        data, headers = self.encoded(self.choose_single())
        with self.client.post(
            PREDICT, data=data, headers=headers, name="single", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            elif "probability_fraud" not in (response.json() or {}):
                response.failure("answer has no probability_fraud")

    @task(8)
    def batch_10(self) -> None:
        self.batch(10)

    @task(2)
    def batch_100(self) -> None:
        self.batch(100)

    @task(5)
    def invalid(self) -> None:
        case = self.choose_invalid()
        data, headers = self.encoded(case.body)
        with self.client.post(
            PREDICT,
            data=data,
            headers=headers,
            name=f"invalid_{case.name}",
            catch_response=True,
        ) as response:
            if response.status_code == case.expected_status:
                response.success()
            else:
                response.failure(f"expected {case.expected_status}, got {response.status_code}")

    def batch(self, size: int) -> None:
        raws = pick(self.rng, self.transactions, size)
        if self.shape == "baseline":
            self.baseline_batch(raws)
            return
        data, headers = self.encoded(batch_body(raws))
        with self.client.post(
            PREDICT, data=data, headers=headers, name=f"batch_{size}", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
            elif len((response.json() or {}).get("predictions", [])) != size:
                response.failure("wrong number of predictions")

    def baseline_batch(self, raws: list[dict[str, Any]]) -> None:
        """One request per transaction (the baseline has no batch), reported as one entry."""
        if self._plain is None:
            self._plain = HTTPClient.from_url(self.host, connection_timeout=10, network_timeout=60)
        base = urlsplit(self.host).path.rstrip("/")
        started = time.perf_counter()
        error: Exception | None = None
        length = 0
        for raw in raws:
            body, headers = self.encoded(single_body(raw, "baseline"))
            try:
                response = self._plain.post(base + PREDICT, body, headers=headers)
                content = response.read()
            except Exception as exc:  # a refused or dropped connection fails this batch
                error = exc
                break
            length += len(content)
            if response.status_code != 200:
                error = RuntimeError(f"status {response.status_code}: {content[:200]!r}")
                break
        self.environment.events.request.fire(
            request_type="POST",
            name=f"batch_{len(raws)}",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )

    def on_stop(self) -> None:
        if self._plain is not None:
            self._plain.close()

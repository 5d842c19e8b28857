"""The short post-deployment load run of ``fraud-load-check``: single transactions and batches of
10 to ``POST /predict``, plus the KServe V2 infer route, with the smoke test's two transactions.

Run by ``fraud-load-check`` (``python -m locust -f ops/locustfile.py``). Requests counting as
failures: anything but a 200 with a JSON body. Extra headers (an API key, a bearer token) come
from the environment variable FRAUD_LOAD_HEADERS as a JSON object, so they stay off the command
line.
"""

from __future__ import annotations

import json
import os

import gevent
from locust import HttpUser, between, events, task

from ops.invoke_check import input_names, v2_infer_body
from ops.smoke import FRAUD_LIKE, LEGITIMATE, V2_MODEL

HEADERS = json.loads(os.environ.get("FRAUD_LOAD_HEADERS") or "{}")


@events.init.add_listener
def _fresh_clock(**_: object) -> None:
    # gevent's loop caches "now": after a slow start (imports on a busy machine) the --run-time
    # timer, started from the stale value, fires seconds early. Measured: 3 s early under load.
    gevent.get_hub().loop.update_now()


class ScoringUser(HttpUser):
    """One client of the scoring API."""

    wait_time = between(0.05, 0.2)
    v2_body: dict | None = None

    def on_start(self) -> None:
        # The model's own V2 inputs (a pre-authorization model has fewer).
        response = self.client.get(f"/v2/models/{V2_MODEL}", headers=HEADERS, name="/v2 metadata")
        try:
            names = input_names(response.json())
        except ValueError:
            names = None
        self.v2_body = v2_infer_body(names)

    def _post(self, path: str, body: object, name: str) -> None:
        with self.client.post(
            path, json=body, headers=HEADERS, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            else:
                try:
                    response.json()
                except ValueError:
                    response.failure("body is not JSON")

    @task(6)
    def single(self) -> None:
        self._post("/predict", FRAUD_LIKE, "/predict single")

    @task(3)
    def batch_10(self) -> None:
        self._post("/predict", {"transactions": [FRAUD_LIKE, LEGITIMATE] * 5}, "/predict batch_10")

    @task(1)
    def v2_infer(self) -> None:
        self._post(f"/v2/models/{V2_MODEL}/infer", self.v2_body or v2_infer_body(), "/v2 infer")

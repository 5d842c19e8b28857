"""Run in a subprocess by test_benchmarks: what the locustfile's tasks would send.

Importing locust monkey-patches the standard library with gevent, which must not happen inside
the pytest process; so this script imports the locustfile, makes one user per shape and prints
the bodies its tasks pick as JSON: ``python tests/bench_locust_picks.py SHAPE DATA N``.
"""

from __future__ import annotations

import argparse
import json
import sys

from locust.env import Environment

from benchmarks.locustfile import PredictUser
from benchmarks.payloads import batch_body, pick


class OfflineUser(PredictUser):
    """The locustfile's user with a host that is never contacted (only its picks are used)."""

    host = "http://127.0.0.1:9"


def main(shape: str, data: str, n: int) -> None:
    environment = Environment(user_classes=[OfflineUser])
    environment.parsed_options = argparse.Namespace(
        payload_shape=shape, transactions=data, raw_times=""
    )
    user = OfflineUser(environment)
    user.on_start()
    invalid = [user.choose_invalid() for _ in range(n)]
    picks = {
        "single": [user.choose_single() for _ in range(n)],
        "invalid": [
            {"name": c.name, "body": c.body.decode(), "status": c.expected_status} for c in invalid
        ],
        "batch_100": batch_body(pick(user.rng, user.transactions, 100)),
        "task_weights": {t.__name__: w for t, w in _weights(PredictUser).items()},
    }
    print(json.dumps(picks))


def _weights(user_class: type) -> dict:
    counts: dict = {}
    for task in user_class.tasks:
        counts[task] = counts.get(task, 0) + 1
    return counts


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

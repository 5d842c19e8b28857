"""One cold start, run in a fresh interpreter by benchmarks.cold_start.

``python -m benchmarks.cold_probe SIDE BODY_JSON``: imports the side's Lambda entry module (which
loads the model from the path in its environment), passes it one HTTP API v2 event and prints one
line (MARKER then JSON): import and first-invoke seconds, the status and the probability answered.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

from benchmarks.events import LambdaContext, http_api_v2_event

#: Starts the result line, which the app's own log lines on stdout cannot be mistaken for.
MARKER = "COLD_PROBE "
#: The Lambda entry module of each side.
ENTRY_MODULES = {
    "fraudlite": "service.lambda_handler",
    "baseline": "benchmarks.baseline.lambda_handler",
}


def main(argv: list[str]) -> int:
    """Time the import and the first invoke; exit 1 if the answer is not a 200 with a score."""
    side, body = argv[0], json.loads(argv[1])
    event = http_api_v2_event(body)
    started = time.perf_counter()
    module = importlib.import_module(ENTRY_MODULES[side])
    imported = time.perf_counter()
    answer = module.handler(event, LambdaContext())
    answered = time.perf_counter()
    status = int(answer.get("statusCode", 0))
    payload = json.loads(answer.get("body") or "null")
    probability = payload.get("probability_fraud") if isinstance(payload, dict) else None
    line = {
        "import_s": imported - started,
        "invoke_s": answered - imported,
        "status": status,
        "probability_fraud": probability,
    }
    print(MARKER + json.dumps(line), flush=True)
    return 0 if status == 200 and probability is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

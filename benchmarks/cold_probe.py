"""One cold start, run in a fresh interpreter by benchmarks.cold_start.

``python benchmarks/cold_probe.py SIDE EVENT_JSON`` (run as a script, as the floor is, so that
neither ``runpy`` nor the ``benchmarks`` package lands in the timed process): imports the side's
Lambda entry module (which loads the model from the path in its environment), passes it the API
Gateway HTTP API v2 event built by the parent and prints one line (MARKER then JSON): import and
first-invoke seconds, the status and the probability answered. Standard library only.
"""

import importlib
import json
import sys
import time

#: Starts the result line, which the app's own log lines on stdout cannot be mistaken for.
MARKER = "COLD_PROBE "
#: The Lambda entry module of each side.
ENTRY_MODULES = {
    "fraudlite": "service.lambda_handler",
    "baseline": "benchmarks.baseline.lambda_handler",
}


class Context:
    """The attributes of Lambda's context object that the handlers read: the same as
    benchmarks.events.LambdaContext, written out because this script, timed from its first
    line, imports nothing from the benchmarks package (as the floor imports nothing either)."""

    function_name = "fraudlite-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:fraudlite-bench"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/fraudlite-bench"
    log_stream_name = "local"
    aws_request_id = "0f7c4a3e-9d1b-4c2a-8e6f-5a4b3c2d1e0f"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def main(argv: list[str]) -> int:
    """Time the import and the first invoke; exit 1 if the answer is not a 200 with a score."""
    side, event = argv[0], json.loads(argv[1])
    started = time.perf_counter()
    module = importlib.import_module(ENTRY_MODULES[side])
    imported = time.perf_counter()
    answer = module.handler(event, Context())
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

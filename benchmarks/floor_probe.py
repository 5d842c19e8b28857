"""The cold-start floor: the least any Python Lambda can do to give the same answer.

``python benchmarks/floor_probe.py MODEL_ONNX EVENT_JSON`` (run as a script, not ``-m``, so not
even the ``benchmarks`` package is imported): import numpy and onnxruntime, open the model, decode
the API Gateway HTTP API v2 event's JSON body with :mod:`json`, one ``session.run``, print the
answer on one line (``COLD_PROBE`` then JSON, the same line benchmarks/cold_probe.py prints).
No validation, no HTTP framework, no logging: benchmarks/cold_start.py runs it interleaved with
fraudlite and reports fraudlite's cold start as a multiple of this one (issue 20: at most 1.3x).
Imports only the standard library, numpy and onnxruntime, on purpose.
"""

import json
import sys
import time

MARKER = "COLD_PROBE "  # must equal benchmarks.cold_probe.MARKER (checked by the tests)
OUTPUT = "probability"  # the graph's probability output (service.schema.OUTPUT_PROBABILITY)


def main(argv: list[str]) -> int:
    """Answer the event in ``argv[1]`` with the model at ``argv[0]``; exit 1 if no probability."""
    started = time.perf_counter()
    import numpy as np
    import onnxruntime as ort

    imported = time.perf_counter()
    options = ort.SessionOptions()
    # The same thread counts fraudlite uses by default (FRAUD_ORT_*_THREADS=1), errors-only log.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(argv[0], options, providers=["CPUExecutionProvider"])
    opened = time.perf_counter()
    body = json.loads(json.loads(argv[1])["body"])
    feeds = {
        i.name: np.array([body[i.name]], dtype=object if i.type == "tensor(string)" else np.float32)
        for i in session.get_inputs()
    }
    (probabilities,) = session.run([OUTPUT], feeds)
    answer = json.dumps({"probability_fraud": float(probabilities[0])})
    answered = time.perf_counter()
    line = {
        "import_s": imported - started,
        "session_s": opened - imported,
        "invoke_s": answered - opened,
        "status": 200,
        "probability_fraud": json.loads(answer)["probability_fraud"],
    }
    print(MARKER + json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The memory a Lambda instance needs (what MemorySize in template.yaml is chosen from).

The handler of service/lambda_handler.py is built in a fresh ``python -S`` process of the image's
Python version that sees only the installed fraudlite side and a copy of service/ (as the image
does), then scores batches of 1,000 transactions; the process's peak RSS and CPU seconds are
recorded, and wall times at smaller memory sizes estimated from them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import PROJECT_ROOT, BenchmarkError, aws_tools
from benchmarks.footprint_install import PYTHON_VERSION

# Run as ``python -S -c`` in the isolated interpreter: it may import only the stdlib, the
# installed fraudlite side and service/.
_PROFILE = r"""
import json, resource, sys, time

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

model, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start_rss, t0, c0 = rss_kib(), time.perf_counter(), cpu()
from service.lambda_app import build_handler
handler = build_handler({"FRAUD_MODEL_URI": model, "FRAUD_LOG_LEVEL": "WARNING"})
init_s, init_cpu, init_rss = time.perf_counter() - t0, cpu() - c0, rss_kib()
kinds = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"]
rows = [
    {"type": kinds[i % 5], "step": 1 + i % 700, "amount": 1000.0 + 37.0 * i,
     "oldbalanceOrg": 5000.0 + i, "newbalanceOrig": 4000.0, "oldbalanceDest": 100.0 * (i % 9),
     "newbalanceDest": 2000.0, "nameOrig": "C%d" % i, "nameDest": "M%d" % (i % 50)}
    for i in range(size)
]
body = json.dumps({"transactions": rows})
event = {
    "version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict", "rawQueryString": "",
    "headers": {"content-type": "application/json", "host": "localhost"},
    "requestContext": {"http": {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "footprint"}, "stage": "$default",
        "requestId": "footprint", "routeKey": "POST /predict"},
    "body": body, "isBase64Encoded": False,
}
class Context:
    aws_request_id = "footprint"
    function_name = "fraudlite-scoring"
    memory_limit_in_mb = 1024
    def get_remaining_time_in_millis(self):
        return 30000
seconds, cpus = [], []
for _ in range(batches):
    t, c = time.perf_counter(), cpu()
    answer = handler(event, Context())
    assert answer["statusCode"] == 200, answer
    seconds.append(time.perf_counter() - t)
    cpus.append(cpu() - c)
single = dict(event, body=json.dumps(rows[0]))
t, c = time.perf_counter(), cpu()
for _ in range(200):
    assert handler(single, Context())["statusCode"] == 200
single_s, single_cpu = (time.perf_counter() - t) / 200, (cpu() - c) / 200
print(json.dumps({
    "python": sys.version.split()[0], "rss_before_import_kib": start_rss,
    "rss_after_init_kib": init_rss,
    "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "init_s": init_s, "init_cpu_s": init_cpu, "batch_rows": size, "batches": batches,
    "batch_s": seconds, "batch_cpu_s": cpus,
    "single_s_mean": single_s, "single_cpu_s_mean": single_cpu,
}))
"""

#: Lambda gives a function one full vCPU at this memory size, proportionally less below it.
FULL_VCPU_MB = 1769


def memory_profile(model: Path, site: Path, batches: int = 20, size: int = 1000) -> dict[str, Any]:
    """Peak RSS and CPU of a Lambda-like process: imports, model load, ``batches`` batches."""
    python = aws_tools().find_python(PYTHON_VERSION)
    if python is None:
        raise BenchmarkError(f"no Python {PYTHON_VERSION} to run the installed side with")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            PROJECT_ROOT / "service",
            Path(tmp) / "service",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        # Precompiled like the image (pip compiles at install; the Dockerfile compiles service/).
        compile_all = [str(python), "-S", "-m", "compileall", "-q", "-j0", str(site), tmp]
        subprocess.run(compile_all, check=True, capture_output=True)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": f"{tmp}:{site}"}
        env |= {"OMP_NUM_THREADS": "1", "FRAUD_ORT_INTRA_OP_THREADS": "1"}
        process = subprocess.run(
            [str(python), "-S", "-c", _PROFILE, str(model.resolve()), str(batches), str(size)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
    if process.returncode != 0:
        raise BenchmarkError(f"memory profile failed:\n{process.stderr[-3000:]}")
    figures = json.loads(process.stdout.strip().splitlines()[-1])
    figures["model"] = str(model)
    figures["model_bytes"] = model.stat().st_size
    figures["peak_rss_mib"] = figures["peak_rss_kib"] / 1024
    warm = sorted(figures["batch_cpu_s"][1:] or figures["batch_cpu_s"])
    figures["batch_cpu_s_median"] = warm[len(warm) // 2]
    # Wall time scales roughly with 1/CPU share for a single-threaded process below 1 vCPU.
    figures["estimated_s_by_memory_mb"] = {
        str(mb): {
            "init": figures["init_cpu_s"] * max(1.0, FULL_VCPU_MB / mb),
            "batch_1000": figures["batch_cpu_s_median"] * max(1.0, FULL_VCPU_MB / mb),
            "single": figures["single_cpu_s_mean"] * max(1.0, FULL_VCPU_MB / mb),
        }
        for mb in (256, 512, 1024, 1769, 3008)
    }
    return figures

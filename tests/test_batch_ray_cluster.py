"""fraud-score --engine ray --ray-address against a real Ray cluster: a head node started here with
``ray start --head`` on 127.0.0.1 (2 CPUs, no dashboard), the job run as a separate driver process
that connects to it, its files compared with the local engine's; the cluster is stopped at the end.

The cluster runs in its own process group, so stopping it signals only the processes this test
started (never ``ray stop``, which would stop every Ray instance on the machine). Ray clusters use
token authentication (Ray 2.5x): the head and the driver get the same token, made up here, through
``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN``, as a user's driver would need the cluster's.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from batch_files import BROKEN, dirty_rows, text_frame, typed, write_csv
from bench_artifacts import trained_artifacts

from batch.cli import main

pytest.importorskip("ray", reason="the ray extra is not installed")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
NUMERIC = ("step", "amount", "oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")
#: How long the head node may take to come up on a busy 2-core machine.
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    """The environment of the head and of the driver: this test's own cluster token."""
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def cluster(auth_env: dict[str, str]) -> Iterator[str]:
    """A Ray head node on 127.0.0.1 with 2 CPUs; yields its address (``127.0.0.1:PORT``)."""
    # A short temporary root: Ray's Unix socket paths must stay under about 100 characters.
    temp = Path(tempfile.mkdtemp(prefix="fr-ray-", dir="/tmp"))
    port = free_port()
    command = [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    command += ["--port", str(port), "--num-cpus", "2", "--include-dashboard=false"]
    command += ["--temp-dir", str(temp), "--disable-usage-stats"]
    # Every port explicit and free: other Ray instances may be running on this machine.
    for option in (
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    ):
        command += [option, str(free_port())]
    log = temp / "ray-start.log"
    with log.open("w") as out:
        head = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=auth_env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "block forever" not in log.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_group(head)
        shutil.rmtree(temp, ignore_errors=True)


def _stop_group(head: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the head's own process group (only what ``ray start`` started), then SIGKILL
    to whatever is left of it."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 15.0)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(head.pid):
            head.poll()
            time.sleep(0.2)
        if not _group_alive(head.pid):
            break
    head.wait(timeout=15)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_job_on_a_cluster_writes_what_the_local_engine_writes(
    cluster: str,
    auth_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> None:
    model = trained_artifacts(tmp_path_factory) / "model.onnx"
    inputs = tmp_path / "in"
    write_csv(dirty_rows(700, seed=21), inputs / "a.csv")
    pq.write_table(
        typed(text_frame(2000, seed=22), NUMERIC), inputs / "b.parquet", row_group_size=400
    )
    local, remote = tmp_path / "local.parquet", tmp_path / "cluster.parquet"
    common = ["--model", str(model), "--keep", "isFraud", "--quiet"]
    assert main([str(inputs), *common, "-o", str(local), "--workers", "2"]) == 0
    # A separate driver process, as a user's would be: it connects, runs the job, disconnects.
    command = [sys.executable, "-m", "batch", str(inputs), *common, "-o", str(remote)]
    done = subprocess.run(
        [*command, "--engine", "ray", "--ray-address", cluster],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=auth_env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "ray"
    assert summary["workers"] is None  # --ray-address without --workers: the cluster's CPUs
    assert summary["rows"] == 2700
    assert pq.read_table(remote).equals(pq.read_table(local))
    rejects = pq.read_table(tmp_path / "cluster.rejects.parquet")
    assert rejects.equals(pq.read_table(tmp_path / "local.rejects.parquet"))
    assert [r["reason"] for r in rejects.to_pylist()] == [b[3] for b in BROKEN]

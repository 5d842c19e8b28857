"""A moto server on a free 127.0.0.1 port, and the environment that points boto3 and the AWS CLI
at it (both honour AWS_ENDPOINT_URL_S3).

:func:`moto_server` runs moto in a subprocess (for tests that run CLIs); :func:`threaded_moto`
runs it in this process, with :func:`use_fake_credentials` for the tests' own boto3 clients.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: Fake credentials and no config files: boto3 can reach no real account with these.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


def use_fake_credentials(env: pytest.MonkeyPatch) -> None:
    """Set :data:`FAKE_CREDENTIALS` and drop AWS_PROFILE for the life of ``env``."""
    for name, value in FAKE_CREDENTIALS.items():
        env.setenv(name, value)
    env.delenv("AWS_PROFILE", raising=False)


@contextmanager
def threaded_moto() -> Iterator[str]:
    """moto's ThreadedMotoServer (all services, in this process) on a free 127.0.0.1 port until
    the block ends; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """Run ``python -m moto.server`` on 127.0.0.1 until the block ends; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "moto server exited"
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def aws_env(url: str) -> dict[str, str]:
    """Fake credentials and the endpoint of ``url`` for boto3 and the AWS CLI."""
    return {
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }

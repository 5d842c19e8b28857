"""Screenshot the Streamlit client against a live local service, in headless Chromium.

Starts the service (``python -m service``) and the client (``streamlit run client/app.py``), both
on 127.0.0.1, then drives Debian's ``chromium`` over the DevTools protocol: a Streamlit page is
drawn by JavaScript over a websocket, so the script waits until the page shows ``--wait-for``
before capturing. The PNG is palette-quantised to stay small (docs/client.png is committed).

    python scripts/screenshot_client.py --model artifacts/model.onnx --out docs/client.png

Without ``--model`` it uses artifacts/model.onnx if present, else builds the small test model of
tests/service_model.py. With ``--api-url`` it uses a running service instead of starting one.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# Streamlit must not phone home, and the page needs no developer toolbar in a screenshot.
STREAMLIT_ENV = {"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
STREAMLIT_FLAGS = [
    "--server.headless=true",
    "--browser.gatherUsageStats=false",
    "--server.fileWatcherType=none",
    "--client.toolbarMode=viewer",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, what: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Wait until ``url`` answers 200 (or fail with the process's log)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {timeout_s:.0f} s")


@contextmanager
def running(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """Run ``command`` for the duration of the block; stop it (and only it) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=out, env={**os.environ, **(env or {})}
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def default_model(workdir: Path) -> Path:
    trained = ROOT / "artifacts" / "model.onnx"
    if trained.exists():
        return trained
    sys.path.insert(0, str(ROOT / "tests"))
    from service_model import build_model  # the small contract-conforming test model

    return build_model(workdir / "model.onnx", threshold=0.5)


class DevTools:
    """A minimal Chrome DevTools protocol session on one page target."""

    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection
        self._next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:  # skip events until our answer arrives
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})


def capture(url: str, size: tuple[int, int], wait_for: str, settle_s: float, log: Path) -> bytes:
    """Open ``url`` in headless Chromium, wait for ``wait_for`` on the page, return a PNG."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fraudlite-chromium-") as profile, ExitStack() as stack:
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1",
            f"--window-size={size[0]},{size[1]}",
            "about:blank",
        ]
        browser = stack.enter_context(running(command, log))
        wait_http(f"http://127.0.0.1:{port}/json/version", "chromium", browser, 30)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
        page = next(t for t in targets if t.get("type") == "page")
        connection = connect(page["webSocketDebuggerUrl"], max_size=64 << 20, open_timeout=10)
        tools = DevTools(stack.enter_context(connection))
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            width=size[0],
            height=size[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        tools.call("Page.navigate", url=url)
        probe = (
            f"document.body && document.body.innerText.includes({json.dumps(wait_for)}) && "
            "!document.querySelector('[data-testid=\"stStatusWidget\"]')"
        )
        deadline = time.monotonic() + 60
        while True:
            result = tools.call("Runtime.evaluate", expression=probe, returnByValue=True)
            if result.get("result", {}).get("value") is True:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the page never showed {wait_for!r} within 60 s")
            time.sleep(0.3)
        time.sleep(settle_s)  # charts draw after the text appears
        shot = tools.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


def shrink(png: bytes, max_bytes: int) -> bytes:
    """Palette-quantise (and if needed downscale) so the PNG stays under ``max_bytes``."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    while True:
        out = io.BytesIO()
        image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
        if out.tell() <= max_bytes or image.width < 400:
            return out.getvalue()
        image = image.resize(
            (image.width * 4 // 5, image.height * 4 // 5), Image.Resampling.LANCZOS
        )


def check_not_blank(png: bytes) -> None:
    """A page that never rendered is a white sheet: refuse to save it."""
    image = Image.open(io.BytesIO(png)).convert("L")
    colors = image.getcolors(maxcolors=1 << 16) or []
    busy = sum(count for count, value in colors if value < 200)
    if busy < image.width * image.height * 0.01:
        raise SystemExit("the screenshot is (almost) blank: the page did not render")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="ONNX model to serve (see module docstring)")
    parser.add_argument("--api-url", help="use this running API instead of starting the service")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "client.png")
    parser.add_argument("--query", default="preset=fraud", help="page query string")
    parser.add_argument("--wait-for", default="Flagged as fraud", help="text to wait for")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds for charts to draw")
    parser.add_argument("--max-kb", type=int, default=280)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fraudlite-shot-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        api_url = args.api_url
        if api_url is None:
            model = args.model or default_model(workdir)
            port = free_port()
            api_url = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "service", "--model", str(model)]
            command += ["--host", "127.0.0.1", "--port", str(port)]
            service = stack.enter_context(running(command, workdir / "service.log"))
            wait_http(f"{api_url}/health", "the service", service)
        ui_port = free_port()
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "client" / "app.py")]
        command += [*STREAMLIT_FLAGS, "--server.address=127.0.0.1", f"--server.port={ui_port}"]
        env = {**STREAMLIT_ENV, "FRAUD_API_URL": api_url}
        ui = stack.enter_context(running(command, workdir / "streamlit.log", env))
        wait_http(f"http://127.0.0.1:{ui_port}/_stcore/health", "streamlit", ui)
        page = f"http://127.0.0.1:{ui_port}/?{args.query}"
        png = capture(
            page, (args.width, args.height), args.wait_for, args.settle, workdir / "chromium.log"
        )
    check_not_blank(png)
    small = shrink(png, args.max_kb * 1024)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(small)
    print(f"wrote {args.out} ({len(small) / 1024:.0f} KB, {args.width}x{args.height}) from {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

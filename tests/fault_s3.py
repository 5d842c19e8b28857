"""A fault-injecting proxy in front of a moto S3 server on 127.0.0.1 (tests/moto_s3.py), for
hardening tests.

The proxy forwards every request to moto unchanged, except for keys under two prefixes:

- ``cut/...``: the object's headers (with its full Content-Length) and half of its bytes are
  sent, then the connection is closed: a download stopped midway;
- ``deny/...``: 403 AccessDenied, as S3 answers a role that may not read the object.

Everything listens on 127.0.0.1 only; no AWS endpoint is ever reached.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from moto_s3 import FAKE_CREDENTIALS

#: For a fresh interpreter's environment: no instance metadata lookups either.
FAKE_AWS_ENV = {**FAKE_CREDENTIALS, "AWS_EC2_METADATA_DISABLED": "true"}

_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>R1</RequestId></Error>"
)


def _handler(upstream: str) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class FaultProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _forward(self) -> None:
            path = urlsplit(self.path).path
            key = path.split("/", 2)[2] if path.count("/") >= 2 else ""
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if key.startswith("deny/"):
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(_ACCESS_DENIED)))
                self.end_headers()
                self.wfile.write(_ACCESS_DENIED)
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            connection.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            if key.startswith("cut/") and self.command == "GET" and answer.status == 200:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

    return FaultProxy


@contextmanager
def fault_proxy(upstream: str) -> Iterator[str]:
    """The proxy in front of ``upstream`` on a free 127.0.0.1 port; yields its endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

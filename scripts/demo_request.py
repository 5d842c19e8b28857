"""Wait for a fraudlite server, then send example requests and print them with their answers.

Standard library only (botocore too for ``--auth iam``), so it runs against any deployment:
``python scripts/demo_request.py --url https://<api-id>.execute-api.<region>.amazonaws.com``.
Authentication as every client does it (client/auth.py): ``--auth iam`` (SigV4, AWS
credentials and ``--region``), ``--auth jwt --token T``, ``--auth apikey --api-key K``; the
defaults come from FRAUD_API_AUTH, FRAUD_API_TOKEN, FRAUD_API_KEY and FRAUD_API_REGION. Secrets
are sent, never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script (python scripts/demo_request.py): the repository root holds client/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.auth import MODES, ApiAuth

EXAMPLES = {
    "a TRANSFER that empties the origin account (a typical PaySim fraud)": {
        "transaction_id": "demo-fraud-1",
        "type": "TRANSFER",
        "step": 1,
        "amount": 181.0,
        "oldbalanceOrg": 181.0,
        "newbalanceOrig": 0.0,
        "oldbalanceDest": 0.0,
        "newbalanceDest": 0.0,
    },
    "an ordinary merchant PAYMENT": {
        "transaction_id": "demo-legit-1",
        "type": "PAYMENT",
        "step": 1,
        "amount": 9839.64,
        "oldbalanceOrg": 170136.0,
        "newbalanceOrig": 160296.36,
        "oldbalanceDest": 0.0,
        "newbalanceDest": 0.0,
    },
}


def check_url(url: str) -> str:
    """``url`` without a trailing slash; only http(s) URLs with a host are accepted."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--url must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def open_url(
    method: str, url: str, headers: dict[str, str], timeout: float, data: bytes | None = None
) -> Any:
    """Send one request; only http(s) URLs are opened (:func:`check_url`, so no file: URLs)."""
    check_url(url)
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked above)


def wait_for_health(url: str, timeout: float, auth: ApiAuth | None = None) -> dict:
    """Poll GET /health until the model is loaded; raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    auth = auth or ApiAuth()
    while time.monotonic() < deadline:
        try:
            target = f"{url}/health"
            with open_url("GET", target, auth.headers("GET", target), 2) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read().decode(errors='replace')}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url}/health not ready after {timeout:.0f}s: {last}")


def post(url: str, body: dict, auth: ApiAuth | None = None) -> tuple[int, dict]:
    """POST ``body`` as JSON to ``url``; return the status and the decoded answer."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    headers.update((auth or ApiAuth()).headers("POST", url, data, headers["Content-Type"]))
    try:
        with open_url("POST", url, headers, 10, data) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def main(argv: list[str] | None = None) -> int:
    """Send the examples; exit 1 if the server never became ready or answered an error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--auth", choices=MODES, help="default: $FRAUD_API_AUTH or none")
    parser.add_argument("--token", help="JWT bearer token for --auth jwt ($FRAUD_API_TOKEN)")
    parser.add_argument("--api-key", help="key for --auth apikey ($FRAUD_API_KEY)")
    parser.add_argument("--region", help="the API's AWS region for --auth iam ($FRAUD_API_REGION)")
    args = parser.parse_args(argv)
    overrides = {
        "FRAUD_API_AUTH": args.auth,
        "FRAUD_API_TOKEN": args.token,
        "FRAUD_API_KEY": args.api_key,
        "FRAUD_API_REGION": args.region,
    }
    environ = {**os.environ, **{k: v for k, v in overrides.items() if v}}
    try:
        url = check_url(args.url)
        auth = ApiAuth.from_env(environ)
        health = wait_for_health(url, args.timeout, auth)
    except (ValueError, TimeoutError) as exc:  # AuthConfigError is a ValueError: no secrets
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"GET {url}/health -> {json.dumps(health)}")
    failed = False
    for title, body in EXAMPLES.items():
        status, answer = post(f"{url}/predict", body, auth)
        print(f"\n# {title}\ncurl -s {url}/predict -H 'Content-Type: application/json' \\")
        print(f"  -d '{json.dumps(body)}'")
        print(f"-> {status} {json.dumps(answer)}")
        failed |= status != 200
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

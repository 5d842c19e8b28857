"""Wait for a fraudlite server, then send example requests and print them with their answers.

Standard library only, so it runs against any deployment: ``python scripts/demo_request.py
--url https://<api-id>.execute-api.<region>.amazonaws.com``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

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


def wait_for_health(url: str, timeout: float) -> dict:
    """Poll GET /health until the model is loaded; raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read().decode(errors='replace')}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url}/health not ready after {timeout:.0f}s: {last}")


def post(url: str, body: dict) -> tuple[int, dict]:
    """POST ``body`` as JSON to ``url``; return the status and the decoded answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def main(argv: list[str] | None = None) -> int:
    """Send the examples; exit 1 if the server never became ready or answered an error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    try:
        health = wait_for_health(url, args.timeout)
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"GET {url}/health -> {json.dumps(health)}")
    failed = False
    for title, body in EXAMPLES.items():
        status, answer = post(f"{url}/predict", body)
        print(f"\n# {title}\ncurl -s {url}/predict -H 'Content-Type: application/json' \\")
        print(f"  -d '{json.dumps(body)}'")
        print(f"-> {status} {json.dumps(answer)}")
        failed |= status != 200
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``fraud-smoke URL``: is a deployed fraudlite API up, and does it decide as a fraud model should?

Run after every deployment (the deploy workflow runs it against staging and production; `make
smoke URL=...` locally). The checks, in order:

1. ``GET /health`` answers 200 with ``status: ok`` (retried while the new stack warms up);
   with ``--expect-version`` the loaded model must be that version.
2. ``POST /predict`` with a fraud-like transaction (a TRANSFER that empties the origin account,
   PaySim's fraud pattern) is flagged; a legitimate PAYMENT is not. Both carry the same
   ``model_version`` as /health.
3. One KServe V2 call: ``GET /v2/models/fraudlite`` names the inputs, ``POST
   /v2/models/fraudlite/infer`` with both transactions returns labels [1, 0] and the same
   probabilities as /predict.

Exit 0 when every check passes, 1 when one fails (each failure is named), 2 for usage errors.
Only the two built-in example transactions are sent, and no response body is printed in full.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ops.http_client import Answer, HttpCheckError, call
from service.schema import EXAMPLE_TRANSACTION

#: PaySim's fraud pattern: a TRANSFER that moves the whole origin balance to an empty account.
FRAUD_LIKE: dict[str, Any] = {**EXAMPLE_TRANSACTION, "transaction_id": "smoke-fraud-like"}
#: The first row of the PaySim file: an ordinary PAYMENT, labelled legitimate.
LEGITIMATE: dict[str, Any] = {
    "transaction_id": "smoke-legitimate",
    "type": "PAYMENT",
    "step": 1,
    "amount": 9839.64,
    "oldbalanceOrg": 170136.0,
    "newbalanceOrig": 160296.36,
    "oldbalanceDest": 0.0,
    "newbalanceDest": 0.0,
}
V2_MODEL = "fraudlite"
#: /predict and V2 run the same graph on the same float32 inputs; allow float32 rounding only.
PROBABILITY_TOLERANCE = 1e-5


class UsageError(ValueError):
    """A bad command line (exit 2)."""


@dataclass
class Check:
    """One named check and what it found."""

    name: str
    ok: bool
    detail: str


@dataclass
class SmokeReport:
    """Every check of one run; ``passed`` when all passed."""

    url: str
    checks: list[Check] = field(default_factory=list)
    model_version: str | None = None

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "passed": self.passed,
            "model_version": self.model_version,
            "checks": [asdict(c) for c in self.checks],
        }


@dataclass(frozen=True)
class SmokeConfig:
    """What to check and how patiently."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    expect_version: str | None = None
    health_attempts: int = 10
    health_wait: float = 3.0
    timeout: float = 30.0


def base_url(url: str) -> str:
    """``url`` without a trailing slash; only http(s) URLs with a host are accepted."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"URL must be http:// or https:// with a host, got {url!r}")
    return url.rstrip("/")


def run_smoke(config: SmokeConfig, say: Callable[[str], None] = lambda _: None) -> SmokeReport:
    """Run every check against ``config.url``; never raises for what the server answers."""
    root = base_url(config.url)
    report = SmokeReport(root)

    def request(method: str, path: str, payload: Any = None) -> Answer:
        return call(method, root + path, payload, config.headers, config.timeout)

    try:
        if not _health(report, request, config, say):
            return report
        predictions = _predictions(report, request)
        _v2(report, request, predictions)
    except HttpCheckError as exc:
        report.add("connection", False, str(exc))
    return report


def _health(report: SmokeReport, request, config: SmokeConfig, say) -> bool:
    answer = None
    for attempt in range(1, config.health_attempts + 1):
        try:
            answer = request("GET", "/health")
        except HttpCheckError as exc:
            if attempt == config.health_attempts:
                raise
            say(f"health: attempt {attempt}: {exc}; retrying")
        else:
            if answer.status == 200:
                break
            say(f"health: attempt {attempt}: HTTP {answer.status}; retrying")
        time.sleep(config.health_wait)
    assert answer is not None
    body = answer.body if isinstance(answer.body, dict) else {}
    version = body.get("model_version")
    ok = answer.status == 200 and body.get("status") == "ok" and isinstance(version, str)
    detail = f"HTTP {answer.status}, model_version {version}"
    if not report.add("health", ok, detail if ok else f"{detail}: {answer.excerpt()}"):
        return False
    report.model_version = version
    if config.expect_version is not None:
        same = version == config.expect_version
        report.add(
            "expected version",
            same,
            f"serving {version}" + ("" if same else f", expected {config.expect_version}"),
        )
    return True


def _predictions(report: SmokeReport, request) -> dict[str, float]:
    """Score both transactions through /predict; their probabilities, by transaction_id."""
    scored: dict[str, float] = {}
    for name, transaction, expected in (
        ("fraud-like flagged", FRAUD_LIKE, True),
        ("legitimate not flagged", LEGITIMATE, False),
    ):
        answer = request("POST", "/predict", transaction)
        body = answer.body if isinstance(answer.body, dict) else {}
        probability = body.get("probability_fraud")
        decided = body.get("is_fraud")
        valid = (
            answer.status == 200
            and isinstance(probability, int | float)
            and 0.0 <= probability <= 1.0
            and isinstance(decided, bool)
        )
        if not valid:
            report.add(name, False, f"HTTP {answer.status}: {answer.excerpt()}")
            continue
        scored[transaction["transaction_id"]] = float(probability)
        same_model = body.get("model_version") == report.model_version
        ok = decided is expected and same_model
        detail = f"is_fraud={decided}, probability {probability:.6g}"
        if not same_model:
            detail += f", model_version {body.get('model_version')} differs from /health's"
        elif decided is not expected:
            detail += f", expected is_fraud={expected} at threshold {body.get('threshold')}"
        report.add(name, ok, detail)
    return scored


def v2_request(input_names: Sequence[str], datatypes: Mapping[str, str]) -> dict[str, Any]:
    """A V2 infer request scoring the fraud-like and the legitimate transaction, in that order."""
    rows = (FRAUD_LIKE, LEGITIMATE)
    return {
        "id": "smoke",
        "inputs": [
            {
                "name": name,
                "shape": [len(rows)],
                "datatype": datatypes[name],
                "data": [row[name] for row in rows],
            }
            for name in input_names
        ],
        "outputs": [{"name": "probability"}, {"name": "label"}],
    }


def _v2(report: SmokeReport, request, predictions: Mapping[str, float]) -> None:
    meta = request("GET", f"/v2/models/{V2_MODEL}")
    inputs = meta.body.get("inputs") if isinstance(meta.body, dict) else None
    if meta.status != 200 or not isinstance(inputs, list):
        report.add("v2 metadata", False, f"HTTP {meta.status}: {meta.excerpt()}")
        return
    names = [i["name"] for i in inputs]
    unknown = [n for n in names if n not in FRAUD_LIKE]
    if unknown:
        report.add("v2 metadata", False, f"model inputs {unknown} are not in the smoke rows")
        return
    report.add("v2 metadata", True, f"{len(names)} inputs")
    answer = request("POST", f"/v2/models/{V2_MODEL}/infer", v2_request(names, _types(inputs)))
    outputs = answer.body.get("outputs") if isinstance(answer.body, dict) else None
    if answer.status != 200 or not isinstance(outputs, list):
        report.add("v2 infer", False, f"HTTP {answer.status}: {answer.excerpt()}")
        return
    data = {o.get("name"): o.get("data") for o in outputs if isinstance(o, dict)}
    labels, probabilities = data.get("label"), data.get("probability")
    problems = []
    if labels != [1, 0]:
        problems.append(f"labels {labels}, expected [1, 0]")
    expected = [predictions.get(t["transaction_id"]) for t in (FRAUD_LIKE, LEGITIMATE)]
    if not isinstance(probabilities, list) or len(probabilities) != 2:
        problems.append(f"probabilities {probabilities!r}")
    elif None not in expected and any(
        abs(p - e) > PROBABILITY_TOLERANCE for p, e in zip(probabilities, expected, strict=True)
    ):
        problems.append(f"probabilities {probabilities} differ from /predict's {expected}")
    version = answer.body.get("model_version")
    if version != report.model_version:
        problems.append(f"model_version {version} differs from /health's")
    report.add("v2 infer", not problems, "; ".join(problems) or f"labels {labels}")


def _types(inputs: list[dict[str, Any]]) -> dict[str, str]:
    return {i["name"]: i.get("datatype", "FP32") for i in inputs}


def parse_header(text: str) -> tuple[str, str]:
    """``Name: value`` -> (name, value)."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"header must look like 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fraud-smoke",
        description="Smoke-test a deployed fraudlite API: health, a fraud-like and a legitimate "
        "transaction with the expected decisions, one KServe V2 call.",
    )
    p.add_argument(
        "url", help="base URL of the API, e.g. https://abc.execute-api.../ or http://127.0.0.1:8000"
    )
    p.add_argument("--expect-version", help="fail unless /health serves this model_version")
    p.add_argument(
        "--header",
        action="append",
        type=parse_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header (repeatable), e.g. 'Authorization: Bearer ...'",
    )
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="send environment variable VAR's value as X-API-Key (keeps it off the command line)",
    )
    p.add_argument(
        "--bearer-env",
        metavar="VAR",
        help="send environment variable VAR's value as 'Authorization: Bearer' (JWT auth)",
    )
    p.add_argument("--attempts", type=int, default=10, help="tries of /health before failing (10)")
    p.add_argument("--wait", type=float, default=3.0, help="seconds between /health tries (3)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the report as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the smoke test; exit 0 when every check passes, 1 otherwise, 2 for usage errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    headers = dict(args.header)
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            parser.exit(
                2, f"fraud-smoke: error: environment variable {args.api_key_env} is empty\n"
            )
        headers["X-API-Key"] = key
    if args.bearer_env:
        token = os.environ.get(args.bearer_env)
        if not token:
            parser.exit(2, f"fraud-smoke: error: environment variable {args.bearer_env} is empty\n")
        headers["Authorization"] = f"Bearer {token}"
    if args.attempts < 1:
        parser.exit(2, "fraud-smoke: error: --attempts must be at least 1\n")
    config = SmokeConfig(
        args.url, headers, args.expect_version, args.attempts, args.wait, args.timeout
    )
    try:
        report = run_smoke(config, say=lambda m: print(m, file=sys.stderr))
    except UsageError as exc:
        parser.exit(2, f"fraud-smoke: error: {exc}\n")
    for check in report.checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    verdict = "passed" if report.passed else "FAILED"
    print(f"smoke test of {report.url} {verdict} (model_version {report.model_version})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())

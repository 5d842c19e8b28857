"""``fraud-serve``: run the service locally under uvicorn (also ``python -m service``)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys

from service.app import create_app
from service.model import ModelLoadFailure, load_model
from service.rollout.models import load_rollout
from service.settings import Settings, SettingsError
from service.telemetry.logs import configure_logging
from service.telemetry.setup import build_telemetry

#: uvicorn's HTTP protocol and event loop choices; "auto" resolves in :func:`resolve_server_impl`.
HTTP_CHOICES = ("auto", "httptools", "h11")
LOOP_CHOICES = ("auto", "uvloop", "asyncio")


class ServerImplError(RuntimeError):
    """An HTTP protocol or event loop was asked for by name but is not installed."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def resolve_server_impl(http: str = "auto", loop: str = "auto") -> tuple[str, str]:
    """The concrete (HTTP protocol, event loop) uvicorn will run.

    "auto" means httptools and uvloop when installed (the server extra brings them; they are C
    implementations and cost less CPU per request than h11 and asyncio), else h11 and asyncio.
    uvicorn's own "auto" makes the same choice, but silently: resolving it here lets fraud-serve
    say which it runs, and a benchmark pin either one. A name that is not installed is an error.
    """
    if http == "auto":
        http = "httptools" if _installed("httptools") else "h11"
    elif http == "httptools" and not _installed("httptools"):
        raise ServerImplError("--http httptools: httptools is not installed")
    if loop == "auto":
        loop = "uvloop" if _installed("uvloop") else "asyncio"
    elif loop == "uvloop" and not _installed("uvloop"):
        raise ServerImplError("--loop uvloop: uvloop is not installed")
    return http, loop


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraud-serve",
        description="Serve the fraudlite model over HTTP. Other settings come from FRAUD_* "
        "environment variables (see docs/api.md).",
    )
    parser.add_argument(
        "--model",
        help="model path or s3://bucket/key (default: $FRAUD_MODEL_URI)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--http",
        choices=HTTP_CHOICES,
        default="auto",
        help="uvicorn HTTP protocol (default auto: httptools if installed, else h11)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOP_CHOICES,
        default="auto",
        help="event loop (default auto: uvloop if installed, else asyncio)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Load the model and serve until interrupted; a model failure is served as 503s."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        if args.model:
            settings = dataclasses.replace(settings, model_uri=args.model)
        # Telemetry (issue 15): GET /metrics (Prometheus) and the decision log, opened now so an
        # unusable FRAUD_DECISION_LOG stops the start with its reason.
        telemetry = build_telemetry(settings, "server")
    except SettingsError as exc:
        print(f"fraud-serve: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # prometheus_client comes with the server extra
        print(
            f"fraud-serve: {exc.name} is not installed: pip install 'fraudlite[server]' "
            "(or FRAUD_METRICS=off)",
            file=sys.stderr,
        )
        return 2
    try:
        http, loop = resolve_server_impl(args.http, args.loop)
    except ServerImplError as exc:
        print(f"fraud-serve: {exc}: pip install 'fraudlite[server]'", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    model = load_model(settings)
    rollout = load_rollout(settings, model)  # shadow and A/B models (issue 16)
    if isinstance(model, ModelLoadFailure):
        # The operator's console gets the reason; clients get only the kind of fault.
        print(
            f"fraud-serve: model not loaded ({model.kind}), answering 503: {model.reason}",
            file=sys.stderr,
        )
    else:
        print(
            f"fraud-serve: model {model.version} on http://{args.host}:{args.port} (docs at /docs)",
            file=sys.stderr,
        )
    try:
        import uvicorn  # local serving only; the Lambda image does not need it
    except ImportError:
        print(
            "fraud-serve: uvicorn is not installed: pip install 'fraudlite[server]'",
            file=sys.stderr,
        )
        return 2

    if settings.api_keys_sha256:
        print(
            f"fraud-serve: {len(settings.api_keys_sha256)} API key(s) accepted; every route "
            "but /health needs X-API-Key",
            file=sys.stderr,
        )
    print(f"fraud-serve: uvicorn with HTTP {http}, loop {loop}", file=sys.stderr)
    try:
        uvicorn.run(
            create_app(settings, model, telemetry, rollout),
            host=args.host,
            port=args.port,
            http=http,
            loop=loop,
            access_log=False,  # the app writes its own JSON line per request
            log_level=settings.log_level.lower(),
        )
    except OSError as exc:  # e.g. the port is taken: one line, not a traceback
        print(f"fraud-serve: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

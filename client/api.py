"""HTTP client of the fraudlite scoring API, with typed errors that carry the API's own reason.

Only httpx and the standard library: the client never loads a model, it asks the service. The
errors (client/api_errors.py) and the answer types (client/api_models.py) are re-exported here,
where the pages and tests import them from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from client.api_errors import (
    ApiBadResponse,
    ApiError,
    ApiRejected,
    ApiServerError,
    ApiUnreachable,
    ProblemDetail,
    error_from,
)
from client.api_models import (
    BatchResult,
    Contribution,
    Explanation,
    ModelCard,
    Prediction,
    SingleResult,
    find_max_batch,
    mapping,
    number,
    parse_explanation,
    parse_prediction,
)
from client.auth import ApiAuth, AuthConfigError, httpx_auth

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_URL",
    "ApiBadResponse",
    "ApiError",
    "ApiRejected",
    "ApiServerError",
    "ApiUnreachable",
    "BatchResult",
    "Contribution",
    "Explanation",
    "FraudApiClient",
    "ModelCard",
    "Prediction",
    "ProblemDetail",
    "SingleResult",
    "parse_explanation",
]

DEFAULT_URL: Final = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S: Final = 30.0


class FraudApiClient:
    """Calls the scoring API at ``base_url`` (a stage path such as ``.../prod`` is kept).

    ``auth`` authenticates every request (client/auth.py: IAM SigV4, JWT bearer, X-API-Key);
    ``transport`` lets tests plug in ``httpx.MockTransport``. Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        auth: ApiAuth | None = None,
    ) -> None:
        self.base_url = base_url.strip() or DEFAULT_URL
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"accept": "application/json"},
            auth=httpx_auth(auth) if auth is not None and auth.mode != "none" else None,
        )

    def __enter__(self) -> FraudApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def health(self) -> dict[str, Any]:
        """``GET /health``: the service's status; raises :class:`ApiError` when it is not ready."""
        body, _ = self._call("GET", "/health")
        return mapping(body, "health answer")

    def model_card(self) -> ModelCard:
        """``GET /model``: the served model's version, threshold, metrics and limits."""
        body, _ = self._call("GET", "/model")
        raw = mapping(body, "model answer")
        version = raw.get("model_version", raw.get("version"))
        if not isinstance(version, str):
            raise ApiBadResponse("GET /model answer lacks a model_version string")
        metrics = raw.get("metrics")
        threshold = raw.get("threshold")
        created_at = raw.get("created_at")
        return ModelCard(
            version=version,
            threshold=number(threshold, "threshold") if threshold is not None else None,
            metrics=dict(metrics) if isinstance(metrics, Mapping) else {},
            created_at=str(created_at) if created_at is not None else None,
            max_batch=find_max_batch(raw),
            raw=dict(raw),
        )

    def predict(self, transaction: Mapping[str, Any], *, explain: bool = False) -> SingleResult:
        """``POST /predict`` with one transaction."""
        payload = dict(transaction)
        if explain:
            payload["explain"] = True
        body, elapsed = self._call("POST", "/predict", json=payload)
        return SingleResult(parse_prediction(mapping(body, "prediction")), elapsed)

    def predict_batch(
        self, transactions: Sequence[Mapping[str, Any]], *, explain: bool = False
    ) -> BatchResult:
        """``POST /predict`` with ``{"transactions": [...]}``; answers in request order."""
        payload: dict[str, Any] = {"transactions": [dict(t) for t in transactions]}
        if explain:
            payload["explain"] = True
        body, elapsed = self._call("POST", "/predict", json=payload)
        answer = mapping(body, "batch answer")
        items = answer.get("predictions")
        if not isinstance(items, list) or len(items) != len(transactions):
            raise ApiBadResponse(
                f"batch answer should hold {len(transactions)} predictions, "
                f"got {len(items) if isinstance(items, list) else type(items).__name__}"
            )
        predictions = tuple(parse_prediction(mapping(item, "prediction"), answer) for item in items)
        version = answer.get("model_version")
        if not isinstance(version, str):
            version = predictions[0].model_version if predictions else ""
        return BatchResult(predictions, version, elapsed)

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[Any, float]:
        """Send one request; return (decoded JSON body, round-trip milliseconds) or raise."""
        start = time.perf_counter()
        try:
            response = self._http.request(method, path.lstrip("/"), **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiUnreachable(f"no answer from {self.base_url} in time ({exc})") from exc
        except AuthConfigError as exc:  # e.g. IAM without credentials: say which setting
            raise ApiUnreachable(f"cannot authenticate to {self.base_url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ApiUnreachable(f"cannot reach the API at {self.base_url}: {exc}") from exc
        except ValueError as exc:  # e.g. NaN in the body: JSON cannot carry it
            raise ApiRejected(f"the request cannot be sent as JSON: {exc}") from exc
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        if response.is_success:
            try:
                return response.json(), elapsed_ms
            except ValueError as exc:
                raise ApiBadResponse(
                    f"{method} {path} answered {response.status_code} with a body that is not JSON",
                    status=response.status_code,
                ) from exc
        raise error_from(response)

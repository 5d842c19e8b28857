"""HTTP client of the fraudlite scoring API, with typed errors that carry the API's own reason.

Only httpx and the standard library: the client never loads a model, it asks the service.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

DEFAULT_URL: Final = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class ProblemDetail:
    """One entry of the API's ``details`` list: which field, and what is wrong with it."""

    field: str
    problem: str


class ApiError(Exception):
    """The API gave no usable answer. ``status`` is the HTTP status (None if none was received)."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        details: Sequence[ProblemDetail] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.details = tuple(details)

    def describe(self) -> str:
        """A one-paragraph human-readable message, naming each offending field."""
        head = f"HTTP {self.status}: {self.reason}" if self.status is not None else self.reason
        if not self.details:
            return head
        return head + "\n" + "\n".join(f"- `{d.field}`: {d.problem}" for d in self.details)


class ApiUnreachable(ApiError):
    """No HTTP answer at all: connection refused, DNS failure, timeout."""


class ApiRejected(ApiError):
    """A 4xx answer: the request was wrong; ``details`` names the fields."""


class ApiServerError(ApiError):
    """A 5xx answer, e.g. 503 while the model is not loaded."""


class ApiBadResponse(ApiError):
    """A 2xx answer whose body is not what the API documents."""


@dataclass(frozen=True)
class Contribution:
    """One feature's push on the log-odds (positive: towards fraud)."""

    name: str
    contribution: float
    value: Any = None


@dataclass(frozen=True)
class Explanation:
    """Per-feature contributions of one score (the API's ``"contributions"``), plus the bias."""

    features: tuple[Contribution, ...]
    bias: float | None = None


@dataclass(frozen=True)
class Prediction:
    """One scored transaction as the API answered it."""

    probability: float
    is_fraud: bool
    threshold: float
    model_version: str
    transaction_id: Any = None
    explanation: Explanation | None = None


@dataclass(frozen=True)
class SingleResult:
    """The answer to a single-transaction request, with the measured round-trip time."""

    prediction: Prediction
    roundtrip_ms: float


@dataclass(frozen=True)
class BatchResult:
    """The answer to a batch request: predictions in request order."""

    predictions: tuple[Prediction, ...]
    model_version: str
    roundtrip_ms: float


@dataclass(frozen=True)
class ModelCard:
    """``GET /model``: the served model's metadata. ``raw`` keeps everything the API sent."""

    version: str
    threshold: float | None
    metrics: dict[str, Any]
    created_at: str | None
    max_batch: int | None
    raw: dict[str, Any] = field(default_factory=dict)


class FraudApiClient:
    """Calls the scoring API at ``base_url`` (a stage path such as ``.../prod`` is kept).

    ``transport`` lets tests plug in ``httpx.MockTransport``. Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.strip() or DEFAULT_URL
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"accept": "application/json"},
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
        return _mapping(body, "health answer")

    def model_card(self) -> ModelCard:
        """``GET /model``: the served model's version, threshold, metrics and limits."""
        body, _ = self._call("GET", "/model")
        raw = _mapping(body, "model answer")
        version = raw.get("model_version", raw.get("version"))
        if not isinstance(version, str):
            raise ApiBadResponse("GET /model answer lacks a model_version string")
        metrics = raw.get("metrics")
        threshold = raw.get("threshold")
        created_at = raw.get("created_at")
        return ModelCard(
            version=version,
            threshold=_number(threshold, "threshold") if threshold is not None else None,
            metrics=dict(metrics) if isinstance(metrics, Mapping) else {},
            created_at=str(created_at) if created_at is not None else None,
            max_batch=_find_max_batch(raw),
            raw=dict(raw),
        )

    def predict(self, transaction: Mapping[str, Any], *, explain: bool = False) -> SingleResult:
        """``POST /predict`` with one transaction."""
        payload = dict(transaction)
        if explain:
            payload["explain"] = True
        body, elapsed = self._call("POST", "/predict", json=payload)
        return SingleResult(_prediction(_mapping(body, "prediction")), elapsed)

    def predict_batch(
        self, transactions: Sequence[Mapping[str, Any]], *, explain: bool = False
    ) -> BatchResult:
        """``POST /predict`` with ``{"transactions": [...]}``; answers in request order."""
        payload: dict[str, Any] = {"transactions": [dict(t) for t in transactions]}
        if explain:
            payload["explain"] = True
        body, elapsed = self._call("POST", "/predict", json=payload)
        answer = _mapping(body, "batch answer")
        items = answer.get("predictions")
        if not isinstance(items, list) or len(items) != len(transactions):
            raise ApiBadResponse(
                f"batch answer should hold {len(transactions)} predictions, "
                f"got {len(items) if isinstance(items, list) else type(items).__name__}"
            )
        predictions = tuple(_prediction(_mapping(item, "prediction"), answer) for item in items)
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
        raise _error_from(response)


def _error_from(response: httpx.Response) -> ApiError:
    """Turn an error answer into the matching typed error, keeping the API's reason."""
    status = response.status_code
    reason = response.reason_phrase or "error"
    details: list[ProblemDetail] = []
    try:
        body = response.json()
    except ValueError:
        body = None
        text = response.text.strip()
        if text:
            reason = text[:300]
    if isinstance(body, Mapping):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, str) and error:
            reason = error
        for item in body.get("details") or ():
            if isinstance(item, Mapping):
                details.append(
                    ProblemDetail(str(item.get("field", "")), str(item.get("problem", "")))
                )
    kind = ApiRejected if 400 <= status < 500 else ApiServerError
    return kind(reason, status=status, details=details)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ApiBadResponse(f"the {what} is not a JSON object")
    return value


def _number(value: Any, name: str) -> float:
    # bool is an int subclass; a true/false where a number belongs is a protocol error.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiBadResponse(f"`{name}` should be a finite JSON number, got {value!r}")
    return float(value)


def _prediction(item: Mapping[str, Any], envelope: Mapping[str, Any] | None = None) -> Prediction:
    """Parse one prediction; batch items may leave the model version to the envelope."""
    is_fraud = item.get("is_fraud")
    if not isinstance(is_fraud, bool):
        raise ApiBadResponse(f"`is_fraud` should be true or false, got {is_fraud!r}")
    version = item.get("model_version", (envelope or {}).get("model_version", ""))
    threshold = item.get("threshold", (envelope or {}).get("threshold"))
    return Prediction(
        probability=_number(item.get("probability_fraud"), "probability_fraud"),
        is_fraud=is_fraud,
        threshold=_number(threshold, "threshold"),
        model_version=str(version),
        transaction_id=item.get("transaction_id"),
        explanation=parse_explanation(item.get("contributions")),
    )


def parse_explanation(value: Any) -> Explanation | None:
    """Read the API's ``"contributions"``: a list of entries (a ``bias`` entry allowed) or an
    object with ``features``/``top`` and ``bias``. Unknown shapes give None, never an error:
    explanations are an optional extra of the page."""
    if value is None:
        return None
    bias: float | None = None
    entries: Any = value
    if isinstance(value, Mapping):
        raw_bias = value.get("bias")
        if isinstance(raw_bias, int | float) and not isinstance(raw_bias, bool):
            bias = float(raw_bias)
        entries = value.get("features", value.get("top", ()))
    if not isinstance(entries, list):
        return None
    features: list[Contribution] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name", entry.get("feature"))
        amount = entry.get("contribution")
        if not isinstance(amount, int | float) or isinstance(amount, bool):
            continue
        if name == "bias":
            bias = float(amount)
            continue
        features.append(Contribution(str(name), float(amount), entry.get("value")))
    return Explanation(tuple(features), bias)


def _find_max_batch(card: Mapping[str, Any]) -> int | None:
    """The service's batch limit, if GET /model exposes it (top level or under ``limits``)."""
    for holder in (card, card.get("limits"), card.get("service")):
        if isinstance(holder, Mapping):
            value = holder.get("max_batch")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None

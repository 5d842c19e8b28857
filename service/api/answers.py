"""The JSON API's answers as msgspec types: what the OpenAPI document says /predict, /health
and the errors return (service/docs/document.py generates their schemas from these)."""

from __future__ import annotations

import msgspec


class FeatureContribution(msgspec.Struct, forbid_unknown_fields=True):
    """One explained feature: the one-hot ``type_*`` features are one entry named ``type``."""

    name: str
    #: The engineered feature value the trees read (float32; null if not finite); for ``type``
    #: the transaction type.
    value: float | str | None
    #: Contribution to the log-odds; positive pushes towards fraud.
    contribution: float


class Explanation(msgspec.Struct, forbid_unknown_fields=True):
    """Why this score: contributions to the log-odds (XGBoost's approximate, Saabas,
    contributions computed inside model.onnx). sum(features[].contribution) + other + bias =
    log(p / (1 - p)) of probability_fraud, up to float32 rounding."""

    #: top_k entries by descending |contribution| (ties: model order).
    features: list[FeatureContribution]
    #: Sum of the entries not listed.
    other: float
    #: Base log-odds, the same for every row.
    bias: float


class BatchItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One scored transaction of a batch answer, in request order."""

    transaction_id: str | int | msgspec.UnsetType = msgspec.UNSET
    #: float32 P(fraud).
    probability_fraud: float
    #: probability_fraud >= threshold.
    is_fraud: bool
    contributions: Explanation | msgspec.UnsetType = msgspec.UNSET


class Prediction(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The answer to one transaction."""

    transaction_id: str | int | msgspec.UnsetType = msgspec.UNSET
    probability_fraud: float
    is_fraud: bool
    threshold: float
    model_version: str
    contributions: Explanation | msgspec.UnsetType = msgspec.UNSET


class BatchPrediction(msgspec.Struct, forbid_unknown_fields=True):
    """The answer to a batch: one item per transaction, the threshold and version once."""

    predictions: list[BatchItem]
    threshold: float
    model_version: str


class Health(msgspec.Struct):
    """GET /health when the model is loaded."""

    status: str
    model_version: str


class ErrorDetail(msgspec.Struct, forbid_unknown_fields=True):
    """One problem with one field; ``field`` is a path such as ``transactions[3].amount``."""

    field: str
    problem: str


class Error(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every error of the JSON API: a summary and one detail per problem."""

    error: str
    details: list[ErrorDetail]
    #: Server faults (5xx) name their request, so a client can report it.
    request_id: str | msgspec.UnsetType = msgspec.UNSET


#: The answer types, in the order the OpenAPI document lists them.
ANSWER_TYPES: tuple[type, ...] = (Prediction, BatchPrediction, Health, Error)

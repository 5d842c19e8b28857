"""Decode and validate POST /predict bodies with msgspec, against the loaded model's inputs.

Three shapes are accepted: one transaction, ``{"transactions": [...]}``, and the original project's
11-field body (one-hot ``type_*`` fields, ``amt_ratio_orig`` ignored). The fields a request must
carry are the model's inputs (from its metadata), so a model needing fewer inputs needs fewer
fields. Other known fields (nameOrig, nameDest, isFraud...) are checked and ignored; unknown fields
are an error.

Valid requests take the fast path: one ``msgspec.convert`` per transaction into a Struct built
for the model. Only when that fails does the slow path look at every field to report each problem,
in words a client can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Final, Literal

import msgspec
import numpy as np

from service import schema
from service.api.explain import (
    DEFAULT_TOP_K,
    EXPLAIN_FIELD,
    NO_EXPLAIN,
    TOP_K_FIELD,
    ExplainOptions,
    pop_options,
)
from service.api.problems import (
    F32_MAX,
    STEP_MAX,
    describe_problem,
    kind_of,
    semantic_problems,
    unknown_field_problem,
)
from service.errors import MAX_DETAILS, Detail, MalformedJSON, ValidationFailed
from service.model.metadata import InputSpec

# MAX_DETAILS (service/errors.py): details listed in one 422 answer, the "more" line included.

_Money = Annotated[
    float, msgspec.Meta(ge=0, le=F32_MAX, description="non-negative; scored as float32")
]
_Step = Annotated[
    float,
    msgspec.Meta(ge=0, le=STEP_MAX, description="hour of the simulation (PaySim: 1-744), whole"),
]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256, description="account id")]
_Bit = Annotated[int, msgspec.Meta(ge=0, le=1)]
_Flag = bool | _Bit | Annotated[float, msgspec.Meta(ge=0, le=1)]
# JSON numbers are values, not spellings: 1.0 is the integer 1 (as JSON Schema says), so labels
# and ids take whole floats too; service/api/problems.py rejects the fractional ones.
_Label = _Flag
_Id = Annotated[str, msgspec.Meta(max_length=256)] | int | float
_TYPES_BY_KIND: Final[dict[str, Any]] = {
    "money": _Money,
    "step": _Step,
    "name": _Name,
    "label": _Label,
    "id": _Id,
    "flag": _Flag,
    "ratio": float | None,
}
LEGACY_FIELDS: Final = (*schema.LEGACY_ONE_HOT, *schema.LEGACY_DERIVED)

#: The request-wide options (checked by service/api/explain.py ``pop_options``) as types with
#: their defaults: they complete the body types of the OpenAPI document.
OPTION_TYPES: Final[dict[str, tuple[Any, Any]]] = {
    EXPLAIN_FIELD: (bool, False),
    TOP_K_FIELD: (Annotated[int, msgspec.Meta(ge=1)], DEFAULT_TOP_K),
}
#: The one option rule a type cannot say, as JSON Schema: top_k only with "explain": true.
OPTIONS_RULE: Final[dict[str, Any]] = {
    "dependentSchemas": {
        TOP_K_FIELD: {"properties": {EXPLAIN_FIELD: {"const": True}}, "required": [EXPLAIN_FIELD]}
    }
}


@dataclass(frozen=True)
class ParsedRequest:
    """A validated request: model-ready columns in request order, plus echo data."""

    batch: bool
    columns: dict[str, np.ndarray]
    transaction_ids: list[str | int | None]
    options: ExplainOptions = NO_EXPLAIN  # top-level "explain"/"top_k" (service/api/explain.py)

    @property
    def size(self) -> int:
        return len(self.transaction_ids)


def decode_json(body: bytes) -> Any:
    """Parse JSON; NaN/Infinity (which Python clients emit) parse so the field can be named."""
    if not body.strip():
        raise MalformedJSON("malformed JSON: the request body is empty")
    try:
        return msgspec.json.decode(body)
    except RecursionError:
        raise MalformedJSON("malformed JSON: nested too deeply") from None
    except msgspec.DecodeError as exc:
        try:
            # JSON has no NaN/Infinity and 1e999 overflows; the stdlib parser accepts both, so
            # the answer can be a 422 naming the field rather than a bare 400.
            return json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedJSON(f"malformed JSON: {exc}") from None


class RequestValidator:
    """Validates request bodies for one model (its inputs and transaction types)."""

    def __init__(
        self, inputs: tuple[InputSpec, ...], type_values: tuple[str, ...], max_batch: int
    ) -> None:
        self.input_names = tuple(spec.name for spec in inputs)
        self.string_inputs = frozenset(s.name for s in inputs if s.type == "string")
        self.type_values = type_values
        self.max_batch = max_batch
        known = {
            "type": Literal[type_values],  # type: ignore[valid-type]
            **{name: _TYPES_BY_KIND[kind_of(name)] for name in _KNOWN_NON_TYPE},
        }
        self.current_fields = dict(known)
        self.legacy_fields = {
            **{n: t for n, t in known.items() if n != "type"},
            **{name: _TYPES_BY_KIND[kind_of(name)] for name in LEGACY_FIELDS},
        }
        self.current_required = set(self.input_names)
        self.legacy_required = (set(self.input_names) - {"type"}) | set(schema.LEGACY_ONE_HOT)
        self.current_struct = _struct("Transaction", self.current_fields, self.current_required)
        self.legacy_struct = _struct("LegacyTransaction", self.legacy_fields, self.legacy_required)
        # The common request (one transaction in the current form, no options) decoded straight
        # into its Struct, skipping the dict, the options and the per-item checks (issue 20).
        self._decode_single = msgspec.json.Decoder(self.current_struct).decode

    def body_types(self, explainable: bool) -> dict[str, type[msgspec.Struct]]:
        """The request bodies as Structs, for the OpenAPI document (built on demand, not at
        cold start): the same field types that validate, the options on the single and batch
        bodies (for a model that cannot ``explain``, only ``"explain": false``). A batch item
        is a Transaction or a LegacyTransaction (the document says so: msgspec types cannot
        hold a union of two Structs)."""
        if explainable:
            options = [(name, kind, default) for name, (kind, default) in OPTION_TYPES.items()]
        else:
            options = [(EXPLAIN_FIELD, Literal[False], False)]
        items = Annotated[
            list[self.current_struct],  # type: ignore[name-defined]
            msgspec.Meta(min_length=1, max_length=self.max_batch),
        ]
        return {
            "Transaction": self.current_struct,
            "LegacyTransaction": self.legacy_struct,
            "TransactionRequest": _struct(
                "TransactionRequest", self.current_fields, self.current_required, options
            ),
            "LegacyTransactionRequest": _struct(
                "LegacyTransactionRequest", self.legacy_fields, self.legacy_required, options
            ),
            "BatchRequest": msgspec.defstruct(
                "BatchRequest", [("transactions", items), *options], forbid_unknown_fields=True
            ),
        }

    def parse(self, body: bytes) -> ParsedRequest:
        """Validate a raw body; raises MalformedJSON (400) or ValidationFailed (422)."""
        return self._parse_single(body) or self.parse_general(body)

    def _parse_single(self, body: bytes) -> ParsedRequest | None:
        """One valid current-form transaction without options, decoded in one call; None for
        anything else (a batch, options, the legacy form, any problem at all), which the
        general path then accepts or explains. It never decides an error itself, so answers and
        error messages are the general path's (tests compare the two on many bodies)."""
        try:
            row = self._decode_single(body)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None
        if semantic_problems(lambda key: getattr(row, key, msgspec.UNSET), False, ""):
            return None
        values, tx_id = self._row(row, legacy=False)
        return ParsedRequest(False, self._columns([values]), [tx_id])

    def parse_general(self, body: bytes) -> ParsedRequest:
        """:meth:`parse` for every body shape, with every problem explained."""
        document = decode_json(body)
        if not isinstance(document, dict):
            raise ValidationFailed(
                details=[Detail("body", "expected a JSON object: a transaction or {transactions}")]
            )
        batch = "transactions" in document
        errors: list[Detail] = []
        document, options = pop_options(document, batch, errors)
        if batch:
            items = self._batch_items(document, errors)
            prefixes = [f"transactions[{i}]" for i in range(len(items))]
        else:
            items, prefixes = [document], [""]
        rows: list[tuple[Any, ...]] = []
        ids: list[str | int | None] = []
        for item, prefix in zip(items, prefixes, strict=True):
            row = self._item(item, prefix, errors)
            if row is not None:
                rows.append(row[0])
                ids.append(row[1])
        if errors:
            shown = errors[:MAX_DETAILS]
            if len(errors) > MAX_DETAILS:  # the last place says how many more there are
                shown = errors[: MAX_DETAILS - 1]
                more = len(errors) - len(shown)
                shown.append(Detail("body", f"{more} more problems not listed"))
            raise ValidationFailed("invalid request: " + _summary(errors), shown)
        return ParsedRequest(batch, self._columns(rows), ids, options)

    def _batch_items(self, document: dict[str, Any], errors: list[Detail]) -> list[Any]:
        for key in document:
            if key != "transactions":
                errors.append(Detail(key, "unknown field (a batch body has only 'transactions')"))
        items = document["transactions"]
        if not isinstance(items, list):
            errors.append(Detail("transactions", "expected a list of transactions"))
            return []
        if not items:
            errors.append(Detail("transactions", "must contain at least 1 transaction"))
        elif len(items) > self.max_batch:
            problem = f"must contain at most {self.max_batch} transactions, got {len(items)}"
            errors.append(Detail("transactions", problem))
            return []
        return items

    def _item(
        self, item: Any, prefix: str, errors: list[Detail]
    ) -> tuple[tuple[Any, ...], str | int | None] | None:
        """Validate one transaction; returns (model input values, transaction_id) or None."""
        if not isinstance(item, dict):
            errors.append(Detail(prefix or "body", "expected a JSON object (one transaction)"))
            return None
        legacy = "type" not in item and any(key in item for key in LEGACY_FIELDS)
        struct = self.legacy_struct if legacy else self.current_struct
        try:
            row = msgspec.convert(item, struct)
        except msgspec.ValidationError:
            errors.extend(self._explain(item, legacy, prefix))
            return None
        problems = semantic_problems(lambda key: getattr(row, key, msgspec.UNSET), legacy, prefix)
        if problems:
            errors.extend(problems)
            return None
        return self._row(row, legacy)

    def _row(self, row: Any, legacy: bool) -> tuple[tuple[Any, ...], str | int | None]:
        """A checked transaction's model input values and its transaction_id (or None)."""
        values = tuple(
            _legacy_type(row) if name == "type" and legacy else getattr(row, name)
            for name in self.input_names
        )
        tx_id = row.transaction_id
        if isinstance(tx_id, float):  # whole (checked before): echoed as the integer it is
            tx_id = int(tx_id)
        return values, (None if tx_id is msgspec.UNSET else tx_id)

    def _explain(self, item: Mapping[str, Any], legacy: bool, prefix: str) -> list[Detail]:
        """Slow path: one detail per offending field, in the body's field order."""
        fields = self.legacy_fields if legacy else self.current_fields
        required = self.legacy_required if legacy else self.current_required
        out: list[Detail] = []
        converted: dict[str, Any] = {}
        for key, value in item.items():
            where = f"{prefix}.{key}" if prefix else key
            if key not in fields:
                out.append(Detail(where, unknown_field_problem(key, legacy)))
                continue
            try:
                converted[key] = msgspec.convert(value, fields[key])
            except msgspec.ValidationError as exc:
                out.append(Detail(where, describe_problem(key, value, str(exc), self.type_values)))
        out.extend(semantic_problems(lambda key: converted.get(key, msgspec.UNSET), legacy, prefix))
        for key in sorted(required - set(item), key=self.input_names_order):
            where = f"{prefix}.{key}" if prefix else key
            out.append(Detail(where, "required field is missing"))
        return out

    def input_names_order(self, name: str) -> tuple[int, str]:
        order = self.input_names
        return (order.index(name) if name in order else len(order), name)

    def _columns(self, rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
        """Model input arrays: float64 JSON numbers become float32 (the model's precision).

        The numeric inputs are converted in one call, as an [inputs, rows] block whose rows are
        the columns (contiguous, as onnxruntime wants them): one conversion instead of one per
        input, the same float32 values (each number is rounded on its own either way).
        """
        columns: dict[str, np.ndarray] = {}
        numeric = self._numeric_positions
        if numeric:
            block = np.array([[row[i] for i in numeric] for row in rows], dtype=np.float32)
            block = np.ascontiguousarray(block.T)
            for slot, index in enumerate(numeric):
                columns[self.input_names[index]] = block[slot]
        for index, name in enumerate(self.input_names):
            if name in self.string_inputs:
                columns[name] = np.array([row[index] for row in rows], dtype=object)
        return {name: columns[name] for name in self.input_names}

    @cached_property
    def _numeric_positions(self) -> tuple[int, ...]:
        return tuple(i for i, name in enumerate(self.input_names) if name not in self.string_inputs)


_KNOWN_NON_TYPE: Final = (
    *schema.NUMERIC_FIELDS,
    *schema.NAME_FIELDS,
    *schema.LABEL_FIELDS,
    "transaction_id",
)


def _struct(
    name: str,
    fields: dict[str, Any],
    required: set[str],
    extra: list[tuple[str, Any, Any]] | None = None,
) -> type[msgspec.Struct]:
    spec: list[Any] = [
        (n, t) if n in required else (n, t, msgspec.UNSET) for n, t in fields.items()
    ]
    spec += extra or []
    # Required fields first: msgspec needs defaults to follow non-defaults.
    spec.sort(key=lambda entry: len(entry) == 3)
    return msgspec.defstruct(name, spec, forbid_unknown_fields=True)


def _legacy_type(row: Any) -> str:
    for field_name, type_name in schema.LEGACY_ONE_HOT.items():
        if getattr(row, field_name):
            return type_name
    return schema.LEGACY_BASE_TYPE


def _summary(errors: list[Detail]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first.field}: {first.problem}{more}"

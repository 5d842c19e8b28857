"""JSON Schemas of the JSON API, generated from the types that validate requests and shape answers.

The request bodies are the loaded model's validator Structs (service/api/requests.py): its
required fields, its transaction types, the value bounds msgspec checks (``minimum``,
``maximum``, ``minLength``, ``maxLength``, ``maxItems``). The few rules msgspec types cannot
express are added by the modules that check them (service/api/problems.py for whole steps and
one-hot flags, service/api/requests.py for ``top_k`` needing ``explain``). The answers come from
service/api/answers.py.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from service import schema
from service.api import answers
from service.api.problems import add_semantic_rules
from service.api.requests import OPTIONS_RULE, RequestValidator

#: Where the components live in the OpenAPI document.
REF_TEMPLATE: Final = "#/components/schemas/{name}"
_LEGACY: Final = ("LegacyTransaction", "LegacyTransactionRequest")
_REQUESTS: Final = ("TransactionRequest", "LegacyTransactionRequest", "BatchRequest")
#: Fields that may be model inputs (service/schema.py).
_FIELDS: Final = frozenset(schema.INPUT_TYPES)


def ref(name: str) -> dict[str, str]:
    """A ``$ref`` to component ``name``."""
    return {"$ref": REF_TEMPLATE.format(name=name)}


def api_components(validator: RequestValidator, explainable: bool) -> dict[str, Any]:
    """The components of /predict's bodies and answers and of the API's errors, for a model
    that can (or cannot) ``explain``."""
    bodies = validator.body_types(explainable)
    _, components = msgspec.json.schema_components(
        [*bodies.values(), *answers.ANSWER_TYPES], ref_template=REF_TEMPLATE
    )
    inputs = set(validator.input_names)
    for name in ("Transaction", "LegacyTransaction", *_REQUESTS[:2]):
        add_semantic_rules(components[name], legacy=name in _LEGACY)
        for field, prop in components[name]["properties"].items():
            if field in _FIELDS and field not in inputs:
                note = "not an input of this model: checked, then ignored"
                prop["description"] = "; ".join(filter(None, [prop.get("description"), note]))
    if explainable:
        for name in _REQUESTS:
            components[name].update(OPTIONS_RULE)
    # A batch item is either body shape; msgspec types cannot hold that union, the schema can.
    transactions = components["BatchRequest"]["properties"]["transactions"]
    transactions["items"] = {"oneOf": [ref("Transaction"), ref("LegacyTransaction")]}
    components["LegacyTransaction"]["description"] = (
        "The original project's body: type from the one-hot fields (all 0 = CASH_IN); "
        "amt_ratio_orig is accepted and ignored."
    )
    return components

"""The transaction form: raw fields, their bounds, and ready-made example transactions.

The field names mirror ``service/schema.py``; the client deliberately does not import the service
(it talks HTTP only), and a test checks the two lists stay equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: PaySim transaction types, as the API accepts them.
TRANSACTION_TYPES: Final[tuple[str, ...]] = ("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER")


@dataclass(frozen=True)
class NumericField:
    """One numeric input of the form, with the bounds the API enforces."""

    name: str
    label: str
    max_value: float
    step: float
    help: str
    integer: bool = False
    min_value: float = 0.0


#: The API's bounds: the model scores float32, so money is at most the largest finite float32,
#: and a step at most 2**24 (the largest range of integers float32 holds exactly).
MONEY_MAX: Final = 3.4028234663852886e38
STEP_MAX: Final = 2**24

#: Numeric raw fields in API order. The API rejects negative values (and NaN/Infinity).
NUMERIC_FIELDS: Final[tuple[NumericField, ...]] = (
    NumericField("step", "Step (hour)", STEP_MAX, 1, "PaySim time step: 1 step = 1 hour", True),
    NumericField("amount", "Amount", MONEY_MAX, 100.0, "Amount of the transaction"),
    NumericField("oldbalanceOrg", "Sender balance before", MONEY_MAX, 100.0, "oldbalanceOrg"),
    NumericField("newbalanceOrig", "Sender balance after", MONEY_MAX, 100.0, "newbalanceOrig"),
    NumericField("oldbalanceDest", "Recipient balance before", MONEY_MAX, 100.0, "oldbalanceDest"),
    NumericField("newbalanceDest", "Recipient balance after", MONEY_MAX, 100.0, "newbalanceDest"),
)

#: Every field a transaction sends, in API order.
TRANSACTION_FIELDS: Final[tuple[str, ...]] = ("type", *(f.name for f in NUMERIC_FIELDS))


@dataclass(frozen=True)
class Preset:
    """A named example transaction for the form; ``key`` names it in a link (``?preset=key``)."""

    key: str
    name: str
    description: str
    values: dict[str, Any]


#: A small PAYMENT to a merchant: the sender keeps most of the balance.
LEGITIMATE: Final = Preset(
    "legitimate",
    "Legitimate payment",
    "A small PAYMENT from a well-funded account to a merchant.",
    {
        "type": "PAYMENT",
        "step": 10,
        "amount": 2_444.49,
        "oldbalanceOrg": 31_454.00,
        "newbalanceOrig": 29_009.51,
        "oldbalanceDest": 0.0,
        "newbalanceDest": 0.0,
    },
)

#: The classic PaySim fraud: a TRANSFER that empties the sender's account into an empty account
#: whose recorded balances do not move.
FRAUD: Final = Preset(
    "fraud",
    "Fraud pattern",
    "A TRANSFER that empties the sender's account into a fresh account.",
    {
        "type": "TRANSFER",
        "step": 1,
        "amount": 1_277_212.77,
        "oldbalanceOrg": 1_277_212.77,
        "newbalanceOrig": 0.0,
        "oldbalanceDest": 0.0,
        "newbalanceDest": 0.0,
    },
)

PRESETS: Final[tuple[Preset, ...]] = (LEGITIMATE, FRAUD)


def transaction_from_values(values: dict[str, Any]) -> dict[str, Any]:
    """Build the API's JSON body for one transaction from form values (extra keys ignored)."""
    body: dict[str, Any] = {"type": str(values["type"])}
    for field in NUMERIC_FIELDS:
        value = values[field.name]
        body[field.name] = int(value) if field.integer else float(value)
    return body

"""A model's explanation outputs, checked at load time: the switch input and the two outputs.

A model exported with explanations (docs/model-contract.md) has an optional bool input
``explain`` (an overridable initializer, default false) and two more outputs: ``contributions``
([N, F+1] log-odds, the last column the bias) and ``features`` ([N, F], the engineered values the
trees read). A model without the metadata key ``explanation_outputs`` has none and still serves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import onnxruntime as ort

from service.model.errors import ModelLoadError, ScoringError
from service.schema import OUTPUT_PROBABILITY

#: The graph's switch (an overridable initializer) and its two explanation outputs.
EXPLAIN_INPUT: Final = "explain"
OUTPUT_CONTRIBUTIONS: Final = "contributions"
OUTPUT_FEATURES: Final = "features"
BIAS_COLUMN: Final = "bias"
#: The one-hot ``type_*`` feature columns are answered as one entry of this name.
TYPE_ENTRY: Final = "type"
_TYPE_PREFIX: Final = "type_"


@dataclass(frozen=True)
class ExplanationSpec:
    """How a model's explanation outputs map to answer entries (checked at load time)."""

    feature_names: tuple[str, ...]
    #: Entry names in model order: features as they are, the type_* columns as one ``type``.
    entries: tuple[str, ...]
    #: For each entry, the feature columns whose contributions it sums.
    columns: tuple[tuple[int, ...], ...]

    @classmethod
    def from_session(
        cls,
        session: ort.InferenceSession,
        props: Mapping[str, str],
        feature_names: tuple[str, ...],
    ) -> ExplanationSpec | None:
        """The spec of an explained model, None for a model without explanations.

        Raises ModelLoadError when the model declares explanations it does not deliver as the
        contract says (outputs, switch input, column names).
        """
        if "explanation_outputs" not in props:
            return None
        declared = _json_list(props, "explanation_outputs")
        wanted = [OUTPUT_CONTRIBUTIONS, OUTPUT_FEATURES]
        if sorted(declared) != wanted:
            raise ModelLoadError(
                f"model metadata 'explanation_outputs' is {declared}, not {wanted}"
            )
        expected_columns = [*feature_names, BIAS_COLUMN]
        if _json_list(props, "contributions_columns") != expected_columns:
            raise ModelLoadError(
                "model metadata 'contributions_columns' is not feature_names followed by 'bias'"
            )
        outputs = {o.name: o for o in session.get_outputs()}
        for name in wanted:
            if name not in outputs or outputs[name].type != "tensor(float)":
                raise ModelLoadError(
                    f"model declares explanations but has no float {name!r} output"
                )
        switches = {i.name: i.type for i in session.get_overridable_initializers()}
        if switches.get(EXPLAIN_INPUT) != "tensor(bool)":
            raise ModelLoadError(
                f"model declares explanations but has no optional bool {EXPLAIN_INPUT!r} input"
            )
        entries: list[str] = []
        columns: list[list[int]] = []
        for index, name in enumerate(feature_names):
            entry = TYPE_ENTRY if name.startswith(_TYPE_PREFIX) else name
            if entry in entries:
                columns[entries.index(entry)].append(index)
            else:
                entries.append(entry)
                columns.append([index])
        return cls(tuple(feature_names), tuple(entries), tuple(tuple(c) for c in columns))

    def describe(self) -> dict[str, Any]:
        """GET /model's ``explanations``: the output columns and the answer's entry names."""
        columns = [*self.feature_names, BIAS_COLUMN]
        return {"contributions_columns": columns, "entries": list(self.entries)}

    def run(
        self, session: ort.InferenceSession, feeds: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One ``session.run`` with ``explain`` true: probabilities, contributions, features."""
        probabilities, contributions, features = session.run(
            [OUTPUT_PROBABILITY, OUTPUT_CONTRIBUTIONS, OUTPUT_FEATURES],
            {**feeds, EXPLAIN_INPUT: np.array(True)},
        )
        n, f = len(next(iter(feeds.values()))), len(self.feature_names)
        for name, array, shape in (
            (OUTPUT_CONTRIBUTIONS, contributions, (n, f + 1)),
            (OUTPUT_FEATURES, features, (n, f)),
        ):
            if array.dtype != np.float32 or array.shape != shape:
                raise ScoringError(
                    f"model returned {name} {array.dtype}{array.shape}, expected float32{shape}"
                )
        return probabilities, contributions, features


def check_explained_warm_up(
    score_explained: Callable[[], tuple[np.ndarray, ...]], probabilities: np.ndarray
) -> None:
    """Warm up the explained path; it must give the same probabilities, and contributions
    summing to their log-odds (sigmoid(sum) matches to about 1e-7). Raises ModelLoadError."""
    try:
        explained, _, contributions, _ = score_explained()
    except Exception as exc:
        raise ModelLoadError(f"warm-up inference with explain=true failed: {exc}") from None
    if not np.array_equal(probabilities, explained):
        raise ModelLoadError("model's probabilities change when explain is true (warm-up)")
    from_sum = 1 / (1 + np.exp(-contributions.astype(np.float64).sum(axis=1)))
    if np.abs(from_sum - probabilities).max(initial=0) > 1e-4:
        raise ModelLoadError(
            "model's contributions plus bias do not add up to the log-odds of its probabilities"
        )


def _json_list(props: Mapping[str, str], key: str) -> list[Any]:
    try:
        value = json.loads(props.get(key, ""))
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise ModelLoadError(f"model metadata {key!r} is not a JSON list")
    return value

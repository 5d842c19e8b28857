"""The models served beside the primary: a shadow and an A/B arm, each loaded or failed.

:func:`load_rollout` loads them from ``FRAUD_SHADOW_MODEL_URI`` / ``FRAUD_AB_MODEL_URI`` (each with
its sha256) exactly as the primary is loaded (local path or S3, checksum, contract, warm-up), but
never with the primary's ``FRAUD_THRESHOLD``: a threshold belongs to its model. A failure is kept,
not raised: the primary serves as before and the failure shows in ``GET /model``, ``GET /health``,
the log and a metric. An A/B model must take no input the primary does not (the request contract
is the primary's, whatever the arm) and know the primary's transaction types.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from service.api.requests import RequestValidator
from service.model import LoadedModel, ModelLoadFailure, load_model
from service.model.errors import FaultKind
from service.settings import Settings
from service.v2.requests import InferValidator

log = logging.getLogger("fraudlite.rollout")

ROLE_PRIMARY: Final = "primary"
ROLE_SHADOW: Final = "shadow"
ROLE_AB: Final = "ab"

Loaded = LoadedModel | ModelLoadFailure


def public_reason(failure: ModelLoadFailure) -> str:
    """What a public answer may say about a failed load: its kind, never its paths or keys."""
    return failure.public_reason


@dataclass(frozen=True)
class Rollout:
    """The shadow and A/B models (either may be None: not configured)."""

    shadow: Loaded | None = None
    ab: Loaded | None = None
    ab_share: float = 0.0
    #: Validates a body for the shadow's own inputs (used when they are not all the primary's).
    shadow_validator: RequestValidator | None = None
    _infer_validators: dict[str, InferValidator] = field(default_factory=dict, repr=False)

    @property
    def splits(self) -> bool:
        """Whether some transactions go to the A/B model (loaded, with a share above 0)."""
        return self.ab_model is not None and self.ab_share > 0

    @property
    def shadow_model(self) -> LoadedModel | None:
        return self.shadow if isinstance(self.shadow, LoadedModel) else None

    @property
    def ab_model(self) -> LoadedModel | None:
        return self.ab if isinstance(self.ab, LoadedModel) else None

    def by_version(self, version: str) -> tuple[str, LoadedModel] | None:
        """(role, model) of a loaded secondary model with this ``model_version``."""
        for role, model in ((ROLE_AB, self.ab_model), (ROLE_SHADOW, self.shadow_model)):
            if model is not None and model.version == version:
                return role, model
        return None

    def infer_validator(self, model: LoadedModel, max_batch: int) -> InferValidator:
        """The KServe V2 request validator of a shadow or A/B model (built once)."""
        validator = self._infer_validators.get(model.version)
        if validator is None:
            validator = InferValidator.for_model(model, max_batch)
            self._infer_validators[model.version] = validator
        return validator

    def describe(self, primary: Loaded) -> list[dict[str, Any]]:
        """Every configured model with its role, version and status (GET /model, /health)."""
        out = [_entry(ROLE_PRIMARY, primary)]
        if self.shadow is not None:
            out.append(_entry(ROLE_SHADOW, self.shadow))
        if self.ab is not None:
            out.append({**_entry(ROLE_AB, self.ab), "share": self.ab_share})
        return out


def _entry(role: str, model: Loaded) -> dict[str, Any]:
    if isinstance(model, LoadedModel):
        return {
            "role": role,
            "model_version": model.version,
            "status": "loaded",
            "feature_set": model.metadata.feature_set,
            "threshold": model.threshold,
        }
    return {"role": role, "model_version": None, "status": "failed", "error": public_reason(model)}


def load_rollout(settings: Settings, primary: Loaded) -> Rollout | None:
    """Load the shadow and A/B models named by ``settings``; None when neither is configured."""
    if settings.shadow_model_uri is None and settings.ab_model_uri is None:
        return None
    shadow = ab = None
    if settings.shadow_model_uri is not None:
        shadow = _load(
            settings, ROLE_SHADOW, settings.shadow_model_uri, settings.shadow_model_sha256
        )
    if settings.ab_model_uri is not None:
        ab = _load(settings, ROLE_AB, settings.ab_model_uri, settings.ab_model_sha256)
        if isinstance(ab, LoadedModel) and isinstance(primary, LoadedModel):
            ab = _check_ab(primary, ab)
    validator = None
    if isinstance(shadow, LoadedModel):
        m = shadow.metadata
        validator = RequestValidator(m.inputs, m.type_values, settings.max_batch)
    return Rollout(shadow, ab, settings.ab_share or 0.0, validator)


def _load(settings: Settings, role: str, uri: str, sha256: str | None) -> Loaded:
    own = dataclasses.replace(settings, model_uri=uri, model_sha256=sha256, threshold=None)
    model = load_model(own)
    if isinstance(model, ModelLoadFailure):
        log.error("%s model not loaded: %s", role, model.reason)
    else:
        log.info("%s model %s loaded from %s", role, model.version, model.source)
    return model


def _check_ab(primary: LoadedModel, ab: LoadedModel) -> Loaded:
    extra = [name for name in ab.input_names if name not in primary.input_names]
    unknown = [t for t in primary.metadata.type_values if t not in ab.metadata.type_values]
    problem = None
    if extra:
        problem = f"A/B model {ab.version} needs inputs the primary does not take: {extra}"
    elif unknown:
        problem = f"A/B model {ab.version} does not know transaction types {unknown}"
    if problem is None:
        return ab
    log.error("ab model not loaded: %s", problem)
    return ModelLoadFailure(reason=problem, source=ab.source, kind=FaultKind.INCOMPATIBLE_MODEL)

"""What every route needs: settings, the model (or why it is missing) and its request validator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from service.api.requests import RequestValidator
from service.errors import Detail, ModelUnavailable
from service.model import LoadedModel, ModelLoadFailure
from service.settings import Settings

if TYPE_CHECKING:
    from service.rollout.models import Rollout
    from service.v2.requests import InferValidator


@dataclass
class ServiceState:
    """Shared, read-only state of one app instance; built once by ``create_app``."""

    settings: Settings
    model: LoadedModel | ModelLoadFailure
    validator: RequestValidator | None = field(default=None)
    #: Shadow and A/B models beside the primary (issue 16); None: the primary alone.
    rollout: Rollout | None = None
    # --- Open Inference Protocol (issue 14): the model's V2 request validator, built once, on
    # the first V2 request (not at cold start: most deployments never get one) ---
    _infer_validator: InferValidator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.model, LoadedModel) and self.validator is None:
            self.validator = RequestValidator(
                self.model.metadata.inputs,
                self.model.metadata.type_values,
                self.settings.max_batch,
            )

    @property
    def infer_validator(self) -> InferValidator | None:
        """The model's V2 request validator (None without a model), built on first use."""
        if self._infer_validator is None and isinstance(self.model, LoadedModel):
            from service.v2.requests import InferValidator

            self._infer_validator = InferValidator.for_model(self.model, self.settings.max_batch)
        return self._infer_validator

    @property
    def model_version(self) -> str | None:
        return self.model.version if isinstance(self.model, LoadedModel) else None

    def require_model(self) -> tuple[LoadedModel, RequestValidator]:
        """The loaded model and its validator; raises ModelUnavailable (503) saying what kind of
        fault it is (the detailed reason was logged at load: it names buckets, keys and paths)."""
        if isinstance(self.model, LoadedModel) and self.validator is not None:
            return self.model, self.validator
        reason = self.unavailable_reason
        raise ModelUnavailable(
            f"model not loaded: {reason}", [Detail("model", reason)], {"Retry-After": "60"}
        )

    @property
    def unavailable_reason(self) -> str:
        """Why no model is served, in public words (the kind of fault), e.g. for V2 probes."""
        if isinstance(self.model, ModelLoadFailure):
            return self.model.public_reason
        return "model unavailable"

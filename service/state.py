"""What every route needs: settings, the model (or why it is missing) and its request validator."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.api.requests import RequestValidator
from service.errors import Detail, ModelUnavailable
from service.model import LoadedModel, ModelLoadFailure
from service.settings import Settings


@dataclass
class ServiceState:
    """Shared, read-only state of one app instance; built once by ``create_app``."""

    settings: Settings
    model: LoadedModel | ModelLoadFailure
    validator: RequestValidator | None = field(default=None)

    def __post_init__(self) -> None:
        if isinstance(self.model, LoadedModel) and self.validator is None:
            self.validator = RequestValidator(
                self.model.metadata.inputs,
                self.model.metadata.type_values,
                self.settings.max_batch,
            )

    @property
    def model_version(self) -> str | None:
        return self.model.version if isinstance(self.model, LoadedModel) else None

    def require_model(self) -> tuple[LoadedModel, RequestValidator]:
        """The loaded model and its validator; raises ModelUnavailable (503) with the reason."""
        if isinstance(self.model, LoadedModel) and self.validator is not None:
            return self.model, self.validator
        reason = self.model.reason if isinstance(self.model, ModelLoadFailure) else "no model"
        raise ModelUnavailable(
            f"model not loaded: {reason}", [Detail("model", reason)], {"Retry-After": "60"}
        )

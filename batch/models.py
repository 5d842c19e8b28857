"""The model of a batch job: fetched and opened exactly as the service does it.

The driver opens it once (checking its contract and warming it up); engines that score in other
processes (Ray actors) get its bytes and open their own session with :func:`open_fetched`. Both
score through :func:`batch.fast_trees.fast_model`: the same trees on onnxruntime's faster
one-output path when that gives bit-identical probabilities (checked at load), else the model as
loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from batch.errors import BatchError
from batch.fast_trees import fast_model
from batch.plan import JobSpec
from service.model import LoadedModel, open_model
from service.model.errors import ModelLoadError
from service.model.store import FetchedModel, fetch_model
from service.settings import Settings


@dataclass(frozen=True)
class ScoringModel:
    """The model opened in this process, and its bytes for engines that open it elsewhere."""

    model: LoadedModel
    fetched: FetchedModel


def model_settings(spec: JobSpec) -> Settings:
    """Service settings for opening the model: one onnxruntime thread per scoring worker."""
    return Settings(
        model_uri=spec.model,
        s3_endpoint_url=spec.s3_endpoint_url,
        model_cache_dir=spec.model_cache_dir,
    )


def load_scoring_model(spec: JobSpec) -> ScoringModel:
    """Fetch (local path or s3://), check and warm up the model, as the service does."""
    settings = model_settings(spec)
    try:
        fetched = fetch_model(settings)
        return ScoringModel(fast_model(open_model(fetched, settings), fetched, settings), fetched)
    except ModelLoadError as exc:
        raise BatchError(f"model not loaded: {exc.reason}") from None


def open_fetched(fetched: FetchedModel) -> LoadedModel:
    """Open a model from bytes fetched elsewhere (a Ray actor gets them from the object store)."""
    settings = Settings(model_uri=fetched.source)
    return fast_model(open_model(fetched, settings), fetched, settings)

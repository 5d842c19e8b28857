"""The model: fetching (store), checking (metadata), opening (loading) and scoring (core).

Nothing here knows HTTP; the routes and protocols build on :class:`LoadedModel`.
"""

from service.model.core import LoadedModel, ModelLoadFailure
from service.model.loading import load_model, open_model, session_options, warm_up_columns

__all__ = [
    "LoadedModel",
    "ModelLoadFailure",
    "load_model",
    "open_model",
    "session_options",
    "warm_up_columns",
]

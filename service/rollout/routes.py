"""``GET /model/golden``: the loaded models' golden transactions, for the deployment hook.

Not routed by API Gateway (template.yaml lists its routes one by one); the CodeDeploy hook reaches
it by invoking the function version directly. ``?sha256=HEX`` asks whether each model's file has
that sha256: the answer is ``sha256_matches`` true or false, so the hash itself is never shown
(``GET /model`` hides it unless FRAUD_EXPOSE_MODEL_DETAILS is set).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.httpio import json_response
from service.model import LoadedModel
from service.rollout.golden import GOLDEN_KEY
from service.rollout.models import ROLE_AB, ROLE_PRIMARY, ROLE_SHADOW
from service.state import ServiceState


def golden_entry(model: LoadedModel, expected_sha256: str | None) -> dict[str, Any]:
    """One model's version, threshold in use and golden set (None if it has none)."""
    text = model.session.get_modelmeta().custom_metadata_map.get(GOLDEN_KEY)
    try:
        golden = None if text is None else json.loads(text)
    except ValueError:
        golden = None
    return {
        "model_version": model.version,
        "threshold": model.threshold,
        "sha256_matches": None if expected_sha256 is None else model.sha256 == expected_sha256,
        "golden": golden,
    }


def rollout_routes(state: ServiceState) -> list[Route]:
    """The rollout's routes, bound to ``state``."""

    async def golden(request: Request) -> Response:
        primary, _ = state.require_model()  # 503 with the kind of fault when not loaded
        expected = request.query_params.get("sha256", "").strip().lower()[:64] or None
        body: dict[str, Any] = {ROLE_PRIMARY: golden_entry(primary, expected)}
        rollout = state.rollout
        if rollout is not None:
            for role, model in ((ROLE_SHADOW, rollout.shadow_model), (ROLE_AB, rollout.ab_model)):
                if model is not None:
                    body[role] = golden_entry(model, expected)
        return json_response(body)

    return [Route("/model/golden", golden, methods=["GET"])]

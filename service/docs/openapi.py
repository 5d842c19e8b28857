"""GET /openapi.json (OpenAPI 3.1) and GET /docs (a self-contained HTML page, no CDN).

Nothing of them is built, or even imported, when the app is created (a Lambda cold start): the
first GET of either route imports service/docs/document.py, builds the document (scoring its
examples with the model), then the page, and keeps both for the life of the app.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from service.httpio import json_response
from service.state import ServiceState


def docs_routes(state: ServiceState) -> list[Route]:
    """GET /openapi.json and GET /docs, each built on its first request, then kept."""
    built: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if "document" not in built:
            # Imported here: the generator and its schemas cost import time no request needs
            # until someone asks for the documentation.
            from service.docs.document import openapi_document

            built["document"] = openapi_document(state)
        return built["document"]

    async def openapi_json(request: Request) -> Response:
        return json_response(document())

    async def docs(request: Request) -> Response:
        if "page" not in built:
            from service.docs.page import render_docs

            built["page"] = render_docs(document())
        return HTMLResponse(built["page"])

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]

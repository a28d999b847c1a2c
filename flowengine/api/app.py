"""The ASGI app: `create_app(deps)` mounts every router under /v1.0, the ops endpoints and error handling."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from flowengine.api import errors, health, metrics
from flowengine.api.bodylimit import BodyLimitMiddleware
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import ErrorResponse
from flowengine.api.vapi import routes as vapi
from flowengine.api.voiceos import routes as voiceos
from flowengine.api.voipbin import (
    accesskeys,
    activeflows,
    aicalls,
    aimessages,
    ais,
    aisummaries,
    calls,
    campaigns,
    customers,
    flows,
    numbers,
    teams,
)

API_PREFIX = "/v1.0"

VOIPBIN_ROUTERS: tuple[APIRouter, ...] = (
    flows.router, activeflows.router, calls.router, ais.router, teams.router, aicalls.router, aimessages.router,
    customers.router, accesskeys.router, campaigns.router, aisummaries.router, numbers.router,
)
"""VoIPBIN's resources, mounted under /v1.0."""

ROOT_ROUTERS: tuple[APIRouter, ...] = (health.router, metrics.router, vapi.router, voiceos.router)
"""Mounted at the root: ops endpoints and the Vapi and VoiceOS front doors (`/call`, `/conversations`...)."""

ERROR_CODES = (400, 401, 403, 404, 409, 413, 503)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with 422 replaced by the 400 this API answers instead, and the error
    responses every operation may give."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "VoiceOS" not in operation.get("tags", ()):  # VoiceOS answers FastAPI's 422 as VoiceOS does
                responses.pop("422", None)
            for code in ERROR_CODES:
                responses.setdefault(str(code), {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                })
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    keeps_422 = any("422" in op.get("responses", {}) for item in doc.get("paths", {}).values() for op in item.values())
    for name in ("HTTPValidationError", "ValidationError") if not keeps_422 else ():
        schemas.pop(name, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in error_schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas["ErrorResponse"] = error_schema
    app.openapi_schema = doc
    return doc


def create_app(deps: ApiDeps) -> FastAPI:
    app = FastAPI(
        title="flowengine",
        version="1.0",
        description="VoIPBIN-style REST API of flowengine. Authenticate with `Authorization: Bearer <access key>`.",
        redoc_url=None,
    )
    app.state.deps = deps
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=deps.max_body_bytes)
    for router in VOIPBIN_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app

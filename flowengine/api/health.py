"""/health: is the store reachable and (when the engine runs calls) Asterisk connected."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from flowengine.api.deps import get_deps
from flowengine.store import StoreError

router = APIRouter(tags=["Ops"])


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    store: Literal["ok", "unreachable"]
    asterisk: Literal["connected", "disconnected", "taken over", "not used"]
    problems: list[str] = []  # why the status is degraded, one line each


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> JSONResponse:
    deps = get_deps(request)
    try:
        await deps.store.ping()
        store: Literal["ok", "unreachable"] = "ok"
    except StoreError:
        store = "unreachable"
    problems = [] if store == "ok" else ["store unreachable"]
    engine = deps.engine
    asterisk: Literal["connected", "disconnected", "taken over", "not used"] = "not used"
    if engine is not None and engine.ari is not None:
        ari = engine.ari
        asterisk = "taken over" if ari.replaced else "connected" if ari.connected.is_set() else "disconnected"
        if ari.problem:
            problems.append(ari.problem)
    if engine is not None and engine.lease is not None and engine.lease.problem:
        problems.append(engine.lease.problem)
    ok = not problems
    body = Health(status="ok" if ok else "degraded", store=store, asterisk=asterisk, problems=problems)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

"""VoiceOS-compatible API at the root: /conversations (create_phone_call, get, list, recording) and /agents CRUD.

An agent is an AI plus its VoiceOS configuration (flowengine.store.frontdoor.Agent); a conversation is a
call placed by flowengine.ai.placedcalls, running an AI call. Validation errors are FastAPI's
HTTPValidationError (422, `{"detail": [{loc, msg, type}]}`) as VoiceOS answers them: the bodies' are made
here, FastAPI's own (query values, a body that is not JSON) by VoiceOSRoute, where /v1.0 answers 400."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from flowengine.ai.placedcalls.errors import CallRefused, NotRunnable
from flowengine.ai.placedcalls.service import Assistance
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import unavailable
from flowengine.api.frontcalls import Instant, aicall_parts
from flowengine.api.ids import ResourceId
from flowengine.api.voiceos.agents import AgentProblems, agent_to_ai, split_headers
from flowengine.api.voiceos.hooks import VoiceOSHooks
from flowengine.api.voiceos.models import AgentConfig, CreateCall, UpdateAgent
from flowengine.api.voiceos.views import agent_view, conversation_view
from flowengine.store import NotFoundError
from flowengine.store.frontdoor import Agent, FrontCall

JsonBody = Annotated[Any, Body()]
INLINE_PATHS = {"engine_model": "agent_config.language_model.model", "tts_type": "agent_config.voice.provider",
                "tts_voice_id": "agent_config.voice.voice_id", "stt_type": "agent_config.transcriber.provider",
                "stt_language": "agent_config.transcriber.language"}
"""Where an inline agent_config gives each AI field: what a refusal at placement names."""
STATUSES = {"queued": ("queued", "ringing"), "started": ("in-progress",), "ended": ("ended",)}
MAX_SCAN = 10_000  # list endpoints page by index; they look at most this many records


def invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": errors}, status_code=422)


class VoiceOSRoute(APIRoute):
    """A route whose request validation errors (a query value of the wrong type, out of range or not in
    its enum) are VoiceOS's 422 HTTPValidationError rather than the engine-wide 400 of flowengine.api.errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return invalid([{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()])

        return handle


router = APIRouter(tags=["VoiceOS"], route_class=VoiceOSRoute)


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


class NotFound(BaseModel):
    """VoiceOS's 404 (FastAPI's `{"detail": ...}`), declared on the routes that answer it so the engine's
    OpenAPI document says what they send."""

    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": NotFound, "description": "no such resource"}}


def _not_found(kind: str) -> JSONResponse:
    return JSONResponse(NotFound(detail=f"{kind} not found").model_dump(), status_code=404)


async def _page(items: list[Any], index: int, limit: int) -> dict[str, Any]:
    start = index * limit
    return {"items": items[start:start + limit], "index": index, "has_more": len(items) > start + limit}


async def _all(repo: Any, customer: str, filters: dict[str, Any] | None, created_after: Instant | None,
               created_before: Instant | None, wanted: int) -> list[Any]:
    out: list[Any] = []
    token: str | None = None
    while len(out) < min(wanted, MAX_SCAN):
        page = await repo.list_page(customer, page_size=100, page_token=token, filters=filters)
        out += [r for r in page.items if (created_after is None or r.tm_create >= created_after)
                and (created_before is None or r.tm_create <= created_before)]
        token = page.next_page_token
        if not token:
            break
    return out


# -- agents ------------------------------------------------------------------------------------------
async def _save_agent(deps: ApiDeps, customer: str, config: AgentConfig, agent: Agent | None) -> Agent:
    name = (config.metadata or {}).get("name", "") or "voiceos agent"
    ai = agent_to_ai(config, customer_id=customer, name=name, where=[])
    stored, headers = split_headers(config)
    if agent is None:
        ai = await deps.store.ais.create(ai)
        agent = await deps.store.agents.create_with_headers(Agent(customer_id=customer, ai_id=ai.id, config=stored),
                                                            headers)
    else:
        ai = await deps.store.ais.update(customer, agent.ai_id, **ai.model_dump(
            exclude={"id", "customer_id", "revision", "tm_create", "tm_update", "tm_delete"}))
        agent = await deps.store.agents.update_with_headers(customer, agent.id, headers, config=stored)
    if deps.resources is not None:
        await deps.resources.put_ai(ai)
    return agent


@router.post("/agents", response_model=None)
async def create_agent(customer: CustomerId, deps: Deps, body: JsonBody) -> dict[str, Any] | JSONResponse:
    try:
        config = AgentConfig.model_validate(body)
        return agent_view(await _save_agent(deps, customer, config, None))
    except ValidationError as exc:
        return invalid(_errors(exc))
    except AgentProblems as exc:
        return invalid(exc.errors)


@router.get("/agents", response_model=None)
async def list_agents(customer: CustomerId, deps: Deps, index: int = Query(0, ge=0),
                      limit: int = Query(10, ge=1, le=100), created_after: Instant | None = None,
                      created_before: Instant | None = None) -> dict[str, Any]:
    found = await _all(deps.store.agents, customer, None, created_after, created_before, (index + 1) * limit + 1)
    return await _page([agent_view(a) for a in found], index, limit)


@router.get("/agents/{id}", response_model=None, responses=NOT_FOUND)
async def get_agent(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any] | JSONResponse:
    try:
        return agent_view(await deps.store.agents.get(customer, id))
    except NotFoundError:
        return _not_found("agent")


@router.patch("/agents/{id}", response_model=None, responses=NOT_FOUND)
async def update_agent(customer: CustomerId, deps: Deps, id: ResourceId,
                       body: JsonBody) -> dict[str, Any] | JSONResponse:
    """The fields given replace the agent's (webhooks given without headers keep no headers)."""
    try:
        agent = await deps.store.agents.get(customer, id)
    except NotFoundError:
        return _not_found("agent")
    try:
        changes = UpdateAgent.model_validate(body).model_dump(exclude_unset=True)
        merged = AgentConfig.model_validate({**agent.config, **changes}) if isinstance(body, dict) else None
        if merged is None:
            return invalid([{"loc": ["body"], "msg": "must be an object", "type": "type_error"}])
        if "webhooks" not in changes:  # keep the stored (encrypted) headers of unchanged webhooks
            kept = await deps.store.agents.get_headers(customer, id)
            for hook, headers in zip(merged.webhooks or [], kept, strict=False):
                hook.headers = headers or None
        return agent_view(await _save_agent(deps, customer, merged, agent))
    except ValidationError as exc:
        return invalid(_errors(exc))
    except AgentProblems as exc:
        return invalid(exc.errors)


@router.delete("/agents/{id}", response_model=None, responses=NOT_FOUND)
async def delete_agent(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any] | JSONResponse:
    try:
        agent = await deps.store.agents.delete(customer, id)
    except NotFoundError:
        return _not_found("agent")
    with contextlib.suppress(NotFoundError):
        await deps.store.ais.delete(customer, agent.ai_id)
    if deps.resources is not None:
        deps.resources.drop(agent.ai_id)
    return agent_view(agent)


# -- conversations -----------------------------------------------------------------------------------
@router.post("/conversations/create_phone_call", response_model=None)
async def create_phone_call(customer: CustomerId, deps: Deps, body: JsonBody) -> dict[str, Any] | JSONResponse:
    try:
        request = CreateCall.model_validate(body)
    except ValidationError as exc:
        return invalid(_errors(exc))
    if (request.agent_id is None) == (request.agent_config is None):
        return invalid([{"loc": ["body", "agent_id"], "msg": "give exactly one of agent_id and agent_config",
                         "type": "value_error"}])
    transient = None
    if request.agent_config is not None:  # the body is checked before the engine is needed, as for Vapi
        try:
            transient = agent_to_ai(request.agent_config, customer_id=customer, name="voiceos conversation",
                                    where=["agent_config"])
        except AgentProblems as exc:
            return invalid(exc.errors)
    calls = deps.need_placed_calls()
    if deps.resources is None:
        raise unavailable("this engine runs no AI calls")
    hooks = VoiceOSHooks.of(calls, deps.store)
    if transient is None:
        try:
            agent = await deps.store.agents.get(customer, str(request.agent_id))
        except (NotFoundError, ValueError):
            return invalid([{"loc": ["body", "agent_id"], "msg": "agent not found", "type": "value_error"}])
        config, headers = dict(agent.config), await deps.store.agents.get_headers(customer, agent.id)
        config["_agent_id"] = agent.id
        await deps.resources.load_ai(customer, agent.ai_id)
        assistance = Assistance("ai", agent.ai_id, named_by="agent_id")
    else:
        assert request.agent_config is not None
        config, headers = split_headers(request.agent_config)
        ai = await deps.store.ais.create(transient)
        await deps.resources.put_ai(ai)
        assistance = Assistance("ai", ai.id, named_by="agent_config", paths=INLINE_PATHS)
    record = FrontCall(customer_id=customer, kind="voiceos", ai_id=assistance.id, to_number=request.to_number,
                       from_number=request.from_number, config=config,
                       metadata=dict(config.get("metadata") or {}))
    hooks.headers[record.id] = headers  # the webhooks' headers, from the first status on
    try:
        record = await calls.place(record, assistance)
    except NotRunnable as exc:  # an agent that cannot run now: VoiceOS's 422 naming the field
        hooks.headers.pop(record.id, None)
        return invalid([{"loc": ["body", *exc.field.split(".")], "msg": str(exc), "type": "value_error"}])
    except CallRefused:
        hooks.headers.pop(record.id, None)
        raise
    return conversation_view(record, None, [])


async def _conversation(deps: ApiDeps, customer: str, id: str) -> FrontCall | None:
    try:
        record = await deps.store.frontcalls.get(customer, id)
    except NotFoundError:
        return None
    return record if record.kind == "voiceos" else None


@router.get("/conversations", response_model=None)
async def list_conversations(customer: CustomerId, deps: Deps,
                             status: Literal["queued", "started", "ended"] | None = None,
                             index: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100),
                             created_after: Instant | None = None,
                             created_before: Instant | None = None) -> dict[str, Any] | JSONResponse:
    filters: dict[str, Any] = {"kind": "voiceos"}
    if status is not None:
        filters["status"] = STATUSES[status]
    found = await _all(deps.store.frontcalls, customer, filters, created_after, created_before,
                       (index + 1) * limit + 1)
    items = [conversation_view(r, *await aicall_parts(deps.store, r)) for r in found[index * limit:(index + 1) * limit]]
    return {"items": items, "index": index, "has_more": len(found) > (index + 1) * limit}


@router.get("/conversations/{id}", response_model=None, responses=NOT_FOUND)
async def get_conversation(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any] | JSONResponse:
    record = await _conversation(deps, customer, id)
    if record is None:
        return _not_found("conversation")
    return conversation_view(record, *await aicall_parts(deps.store, record))


@router.get("/conversations/{id}/recording", response_model=None, responses=NOT_FOUND)
async def get_recording(customer: CustomerId, deps: Deps, id: ResourceId) -> JSONResponse:
    """VoiceOS answers `{recording_url}`. This engine does not record AI calls: a conversation that exists
    answers 404 "no recording" (never a made-up URL)."""
    record = await _conversation(deps, customer, id)
    if record is None:
        return _not_found("conversation")
    return JSONResponse({"detail": "this conversation has no recording: this engine does not record "
                                   "conversations"}, status_code=404)

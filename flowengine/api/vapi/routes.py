"""Vapi-compatible call endpoints at the root: POST /call, POST /call/phone, GET /call, GET|PATCH /call/{id}.

A body is checked against the supported subset (CALL here, the assistant's in flowengine.api.vapi.assistant);
every other field is a 400 naming its JSON path. A transient `assistant` becomes a stored AI, `assistantId`
is one of the customer's AIs, a `squad` becomes a team; the call dials `customer.number` through the
engine's outbound endpoints and runs the AI call on the answer."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from flowengine.ai.definitions import AIConfig
from flowengine.ai.placedcalls.errors import CallRefused
from flowengine.ai.placedcalls.service import Assistance
from flowengine.ai.sources import StoreResources
from flowengine.ai.teams import SquadError, TeamError, squad_to_team
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import ApiError, bad_request, unavailable
from flowengine.api.frontcalls import Instant, aicall_parts
from flowengine.api.ids import ResourceId
from flowengine.api.vapi.assistant import (
    ANY,
    ASSISTANT,
    OVERRIDES,
    RULE_FIELDS,
    AssistantError,
    assistant_to_ai,
    merge,
    rule_fields,
    server_messages,
    unsupported,
)
from flowengine.api.vapi.hooks import VapiHooks
from flowengine.api.vapi.views import call_view
from flowengine.store import AlreadyExistsError, NotFoundError
from flowengine.store.frontdoor import BOUND_OPS, BoundOp, FrontCall

JsonBody = Annotated[Any, Body()]
router = APIRouter(prefix="/call", tags=["Vapi"])

CALL: dict[str, Any] = {
    "name": ANY, "metadata": ANY, "assistantId": ANY, "assistant": ASSISTANT, "assistantOverrides": OVERRIDES,
    "squadId": ANY, "squad": ANY, "customer": {"number": ANY, "name": ANY},
    "phoneNumber": {"twilioPhoneNumber": ANY, "number": ANY, "name": ANY},
}
"""The supported subset of Vapi's CreateCallDTO (squad members are checked by flowengine.ai.teams)."""
INLINE_PATHS = {"engine_model": "assistant.model.provider", "tts_type": "assistant.voice.provider",
                "tts_voice_id": "assistant.voice.voiceId", "stt_type": "assistant.transcriber.provider",
                "stt_language": "assistant.transcriber.language"}
"""Where a transient assistant gives each AI field: what a refusal at placement names."""
PATCHABLE = {"name": ANY, "metadata": ANY}
SECRET_KEYS = ("serverUrlSecret", "secret", "twilioAuthToken")
STORED_ONLY = {"customerId": "stored customers are not supported: give customer.number",
               "phoneNumberId": "stored phone numbers are not supported: give phoneNumber (the caller id) or none"}


def refuse(problems: list[tuple[str, str]]) -> ApiError:
    message = "; ".join(f"{path}: {why}" for path, why in problems[:100])
    return bad_request(message, problems[0][0] if problems else "")


def without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def _check(body: dict[str, Any]) -> None:
    problems = [(k, why) for k, why in STORED_ONLY.items() if body.get(k)]
    problems += unsupported({k: v for k, v in body.items() if k not in STORED_ONLY}, CALL, "")
    if sum(bool(body.get(k)) for k in ("assistant", "assistantId", "squad", "squadId")) != 1:
        problems.append(("assistant", "give exactly one of assistant, assistantId, squad and squadId"))
    if not isinstance(body.get("customer"), dict) or not str(body["customer"].get("number") or ""):
        problems.append(("customer.number", "the number to call is required"))
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        problems.append(("metadata", "must be an object"))
    if problems:
        raise refuse(problems)


def _caller(body: dict[str, Any]) -> str:
    """The caller id shown to the callee: phoneNumber's number, if any."""
    phone = body.get("phoneNumber") or {}
    return str(phone.get("twilioPhoneNumber") or phone.get("number") or "")


async def _assistance(deps: ApiDeps, customer: str, body: dict[str, Any]) -> tuple[Assistance, dict[str, Any], str]:
    """What runs on the call, the serverUrl settings and the hook secret (the body is checked before the
    engine is needed: a bad body is a 400 even where no calls run)."""
    overrides = body.get("assistantOverrides") or {}
    values = dict(overrides.get("variableValues") or {})
    if body.get("assistantId") or body.get("squadId"):
        allowed = ("variableValues", *RULE_FIELDS) if body.get("assistantId") else ("variableValues",)
        extra = [k for k in overrides if k not in allowed]
        if extra:
            why = (f"only {', '.join(allowed)} can override a stored "
                   f"{'assistant' if body.get('assistantId') else 'squad'} here; send a transient assistant")
            raise refuse([(f"assistantOverrides.{k}", why) for k in extra])
        resources = _engine(deps)
        if body.get("assistantId"):
            try:
                config = await resources.load_ai(customer, str(body["assistantId"]))
            except (NotFoundError, ValueError):
                raise bad_request(f"assistant {body['assistantId']} not found", "assistantId") from None
            if any(k != "variableValues" for k in overrides):
                config = await _overridden(deps, resources, config, overrides)
            return Assistance("ai", config.ai.id, values, named_by="assistantId"), {}, ""
        return Assistance("team", str(body["squadId"]), values, named_by="squadId"), {}, ""
    if body.get("squad"):
        _engine(deps)
        return await _squad(deps, customer, body, values), {}, ""
    assistant = merge(body["assistant"], {k: v for k, v in overrides.items() if k != "variableValues"})
    try:
        ai, secrets = assistant_to_ai(assistant, customer_id=customer, spec=ASSISTANT)
        wanted = server_messages(assistant)
    except AssistantError as exc:
        raise refuse(exc.problems) from None
    from pydantic import SecretStr

    resources = _engine(deps)
    ai = await deps.store.ais.create(ai)
    resources.put_config(AIConfig(ai, tool_secrets={k: SecretStr(v) for k, v in secrets.items()}))
    server = {"url": assistant.get("serverUrl"), "messages": wanted} if assistant.get("serverUrl") else {}
    return (Assistance("ai", ai.id, values, named_by="assistant", paths=INLINE_PATHS), server,
            str(assistant.get("serverUrlSecret") or ""))


async def _overridden(deps: ApiDeps, resources: StoreResources, config: AIConfig,
                      overrides: dict[str, Any]) -> AIConfig:
    """This call's copy of a stored assistant with its call rules overridden (stored as an AI of the
    customer, like a transient assistant; the original is left as it was)."""
    from pydantic import ValidationError

    from flowengine.store import AI

    keep = config.ai.model_dump(exclude={"id", "revision", "tm_create", "tm_update", "tm_delete"})
    names = {ours: vapi for vapi, ours in RULE_FIELDS.items()}
    try:
        ai = AI.model_validate({**keep, **rule_fields(overrides)})
    except ValidationError as exc:
        raise refuse([(f"assistantOverrides.{names.get(str(e['loc'][0]), str(e['loc'][0]))}", e["msg"])
                      for e in exc.errors()]) from None
    ai = await deps.store.ais.create(ai, engine_key=config.engine_key, tool_secrets=config.tool_secrets)
    copy = AIConfig(ai, config.engine_key, dict(config.tool_secrets))
    resources.put_config(copy)
    return copy


def _engine(deps: ApiDeps) -> StoreResources:
    deps.need_placed_calls()  # 503 before anything is stored when the engine places no calls
    if deps.resources is None:
        raise unavailable("this engine runs no AI calls")
    return deps.resources


async def _squad(deps: ApiDeps, customer: str, body: dict[str, Any], values: dict[str, Any]) -> Assistance:
    from pydantic import SecretStr

    assert deps.resources is not None
    try:
        team, configs = squad_to_team(body["squad"], customer_id=customer, ais=deps.resources)
    except SquadError as exc:
        raise refuse(exc.problems) from None
    except TeamError as exc:
        raise bad_request(str(exc), "squad") from None
    for config in configs:
        try:
            await deps.store.ais.create(config.ai)
        except AlreadyExistsError:
            await deps.store.ais.update(customer, config.ai.id, **config.ai.model_dump(
                exclude={"id", "customer_id", "revision", "tm_create", "tm_update", "tm_delete"}))
        deps.resources.put_config(AIConfig(config.ai, tool_secrets={k: SecretStr(v.get_secret_value())
                                                                    for k, v in config.tool_secrets.items()}))
    try:
        await deps.store.teams.create(team)
    except AlreadyExistsError:
        await deps.store.teams.update(customer, team.id, **team.model_dump(
            exclude={"id", "customer_id", "revision", "tm_create", "tm_update", "tm_delete"}))
    return Assistance("team", team.id, values, named_by="squad")


async def _create(customer: str, deps: ApiDeps, body: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    _check(body)
    assistance, server, secret = await _assistance(deps, customer, body)
    config = without_secrets(body)
    if server:
        config["_server"] = server
    record = FrontCall(customer_id=customer, kind="vapi", name=str(body.get("name") or ""),
                       ai_id=assistance.id, to_number=str(body["customer"]["number"]),
                       from_number=_caller(body), config=config, metadata=dict(body.get("metadata") or {}))
    calls = deps.need_placed_calls()
    hooks = VapiHooks.of(calls, deps.store)
    if secret:
        hooks.secrets[record.id] = secret  # signs the call's messages from its first status on
    try:
        record = await calls.place(record, assistance, number_field="customer.number")
    except CallRefused:
        hooks.secrets.pop(record.id, None)
        raise
    return call_view(record, None, [])


@router.post("", status_code=201)
async def create_call(customer: CustomerId, deps: Deps, body: JsonBody) -> dict[str, Any]:
    """Vapi's Create Call: dials `customer.number` and runs the assistant (or squad) once answered."""
    return await _create(customer, deps, body)


@router.post("/phone", status_code=201)
async def create_phone_call(customer: CustomerId, deps: Deps, body: JsonBody) -> dict[str, Any]:
    """Vapi's Create Phone Call (the same as POST /call for outbound phone calls)."""
    return await _create(customer, deps, body)


async def _vapi_call(deps: ApiDeps, customer: str, id: str) -> FrontCall:
    record = await deps.store.frontcalls.get(customer, id)
    if record.kind != "vapi":
        raise NotFoundError("call", id)
    return record


class CallQuery(BaseModel):
    """Vapi's List Calls query. Times are ISO 8601 date-times (one without a zone is UTC); a call never
    updated was last updated when it was created (its updatedAt)."""

    id: str | None = Field(None, description="only the call with this id")
    assistantId: str | None = Field(None, description="only the calls placed with this assistantId")
    phoneNumberId: str | None = Field(None, description="refused (400): stored phone numbers are not supported")
    limit: float = Field(100, ge=1, le=1000, description="at most this many calls (a whole number)")
    createdAtGt: Instant | None = Field(None, description="only the calls created after this time")
    createdAtLt: Instant | None = Field(None, description="only the calls created before this time")
    createdAtGe: Instant | None = Field(None, description="only the calls created at or after this time")
    createdAtLe: Instant | None = Field(None, description="only the calls created at or before this time")
    updatedAtGt: Instant | None = Field(None, description="only the calls updated after this time")
    updatedAtLt: Instant | None = Field(None, description="only the calls updated before this time")
    updatedAtGe: Instant | None = Field(None, description="only the calls updated at or after this time")
    updatedAtLe: Instant | None = Field(None, description="only the calls updated at or before this time")

    def bounds(self, name: Literal["createdAt", "updatedAt"]) -> dict[BoundOp, datetime]:
        given: dict[BoundOp, datetime | None] = {op: getattr(self, f"{name}{op.title()}") for op in BOUND_OPS}
        return {op: at for op, at in given.items() if at is not None}


MAX_SCAN = 10_000
"""assistantId is matched on the stored request (a call with overrides runs a copy of the assistant, so its
ai_id is not the assistantId given), after the database query: a list by assistantId reads at most this
many of the newest calls passing the other filters."""


@router.get("")
async def list_calls(customer: CustomerId, deps: Deps, query: Annotated[CallQuery, Query()]) -> list[dict[str, Any]]:
    """Vapi's List Calls: the newest first, at most `limit`, filtered by id, assistantId and the
    createdAt / updatedAt bounds."""
    if query.phoneNumberId:
        raise refuse([("phoneNumberId", "stored phone numbers are not supported: no call here has one")])
    if not float(query.limit).is_integer():  # the default is the int 100
        raise refuse([("limit", "must be a whole number")])
    limit = int(query.limit)
    filters: dict[str, object] = {"kind": "vapi"}
    if query.id:
        try:
            filters["id"] = str(uuid.UUID(query.id))
        except ValueError:
            return []  # ids are UUIDs (flowengine.api.ids): no call has this one
    created, updated = query.bounds("createdAt"), query.bounds("updatedAt")
    out: list[dict[str, Any]] = []
    token: str | None = None
    read = 0
    while len(out) < limit and read < MAX_SCAN:
        page = await deps.store.frontcalls.list_page_within(
            customer, created=created, updated=updated, page_size=100 if query.assistantId else min(100, limit),
            page_token=token, filters=filters)
        read += len(page.items)
        for record in page.items:
            if len(out) < limit and (not query.assistantId or
                                     str(record.config.get("assistantId") or "") == query.assistantId):
                out.append(call_view(record, *await aicall_parts(deps.store, record)))
        token = page.next_page_token
        if not token:
            break
    return out


@router.get("/{id}")
async def get_call(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    record = await _vapi_call(deps, customer, id)
    return call_view(record, *await aicall_parts(deps.store, record))


@router.patch("/{id}")
async def update_call(customer: CustomerId, deps: Deps, id: ResourceId,
                      body: JsonBody) -> dict[str, Any]:
    """Vapi's Update Call: `name` and `metadata`."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    problems = unsupported(body, PATCHABLE, "")
    if "name" in body and not isinstance(body["name"], str):
        problems.append(("name", "must be a string"))
    if "metadata" in body and not isinstance(body["metadata"], dict):
        problems.append(("metadata", "must be an object"))
    if problems:
        raise refuse(problems)
    record = await _vapi_call(deps, customer, id)
    record = await deps.store.frontcalls.update(customer, id, **body)
    return call_view(record, *await aicall_parts(deps.store, record))

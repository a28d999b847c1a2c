"""/v1.0/calls: outbound calls running a flow or inline actions, the customer's call records, live call control."""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, conflict
from flowengine.api.forwarding import live_operation
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.api.timeline.view import CallTimeline, timeline_view
from flowengine.api.voipbin.launch import resolve_flow
from flowengine.asterisk.ari.rest import AriError
from flowengine.flow.callregistry import CallNotLive
from flowengine.flow.external import sanitize_external
from flowengine.store import Call
from flowengine.store.calls import CallDirection, CallStatus
from flowengine.store.records import Address, UuidStr
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/calls", tags=["Call"])
HIDDEN = ("channel_id",)
CallView = view_model(Call, "CallManagerCall", exclude=HIDDEN)
MAX_DESTINATIONS = 100
RECORDING_KEYS = {"": "none", "none": "none", "any": "any", "*": "*", "#": "#"}


class CallBody(Body):
    flow_id: UuidStr | None = None
    actions: list[dict[str, Any]] | None = Field(None, max_length=1000)
    source: Address = Field(default_factory=Address)
    destinations: list[Address] = Field(max_length=MAX_DESTINATIONS)
    anonymous: Literal["yes", "no", "auto"] = "auto"
    variables: dict[str, str] = Field(default_factory=dict, max_length=100)


class CallsOut(BaseModel):
    calls: list[CallView]  # type: ignore[valid-type]
    groupcalls: list[dict[str, Any]]
    """Always empty: flowengine dials one call per destination (no groupcalls)."""


class MuteBody(Body):
    direction: Literal["both", "in", "out"] = "both"


class TalkBody(Body):
    text: str = Field(min_length=1, max_length=5000)
    language: str = Field("", max_length=32)
    provider: str = Field("", max_length=32)
    voice_id: str = Field("", max_length=128)


class RecordingBody(Body):
    format: Literal["wav"] = "wav"
    end_of_silence: int = Field(0, ge=0, le=3600)
    end_of_key: str = Field("", max_length=4)
    duration: int = Field(0, ge=0, le=86400)
    on_end_flow_id: str = Field("", max_length=64)


def call_view(record: Call) -> dict[str, Any]:
    return view(record, exclude=HIDDEN)


def _caller_id(source: Address, anonymous: str) -> str:
    if anonymous == "yes":
        return '"Anonymous" <anonymous>'
    if not source.target:
        return ""
    name = source.target_name or source.name
    return f'"{name}" <{source.target}>' if name else source.target


def _endpoints(deps: Deps, destinations: list[Address]) -> list[str]:
    """The Asterisk dial string of each destination, from `outbound.endpoints` by address type."""
    configured = deps.call_registry().services.endpoints
    out = []
    for index, address in enumerate(destinations):
        kind = address.type or "tel"
        template = configured.get(kind)
        if template is None:
            known = ", ".join(sorted(configured)) or "none"
            raise bad_request(f"no outbound endpoint for address type {kind!r} (configured: {known})",
                              f"destinations[{index}].type")
        if not address.target:
            raise bad_request("a destination needs a target", f"destinations[{index}].target")
        out.append(template.format(target=address.target))
    return out


@router.get("", response_model=PageOut[CallView])  # type: ignore[valid-type]
async def list_calls(customer: CustomerId, deps: Deps, paging: Paging, status: CallStatus | None = None,
                     direction: CallDirection | None = None) -> dict[str, Any]:
    filters: dict[str, object] = {}
    if status:
        filters["status"] = status
    if direction:
        filters["direction"] = direction
    page = await deps.store.calls.list_page(customer, page_size=paging.page_size, page_token=paging.page_token,
                                            filters=filters or None)
    return page_out(page, call_view)


@router.post("", response_model=CallsOut)
async def create_calls(customer: CustomerId, deps: Deps, body: CallBody) -> dict[str, Any]:
    """Dials every destination; each call runs the flow (or the inline actions) once answered.
    The calls are returned at once (status `dialing`); follow them with GET or the call_* webhooks."""
    if not body.destinations:
        raise bad_request("give at least one destination", "destinations")
    registry = deps.call_registry()
    endpoints = _endpoints(deps, body.destinations)
    variables = sanitize_external(body.variables) if body.variables else {}
    flow = await resolve_flow(deps, customer, body.flow_id, body.actions)
    caller = _caller_id(body.source, body.anonymous)
    created = []
    for index, (endpoint, destination) in enumerate(zip(endpoints, body.destinations, strict=True)):
        try:
            record = await registry.originate(customer, flow, endpoint=endpoint, source=body.source,
                                              destination=destination, caller_id=caller,
                                              variables={k: str(v) for k, v in variables.items()})
        except AriError as exc:
            raise bad_request(f"Asterisk refused to dial {endpoint!r}: {exc}", f"destinations[{index}]") from None
        created.append(call_view(record))
    return {"calls": created, "groupcalls": []}


@router.get("/{id}", response_model=CallView)
async def get_call(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return call_view(await deps.store.calls.get(customer, id))


async def _control(awaitable: Awaitable[Call]) -> dict[str, Any]:
    try:
        return call_view(await awaitable)
    except CallNotLive as exc:
        raise conflict(str(exc)) from None
    except AriError as exc:
        raise conflict(f"Asterisk refused: {exc}") from None


@router.get("/{id}/timeline", response_model=CallTimeline)
async def get_call_timeline(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """What happened on the call, in order: flow actions, AI turns with their latencies (voice-to-voice, STT,
    LLM, TTS), barge-ins, tool calls, webhooks sent and how it ended (flowengine's addition)."""
    call = await deps.store.calls.get(customer, id)
    return timeline_view(call, await deps.store.timelines.of_call(id, customer))


@router.delete("/{id}", response_model=CallView)
async def delete_call(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Hangs the call up if it is live, then deletes it (soft)."""
    call = await deps.store.calls.get(customer, id)
    runs_calls = deps.cluster is not None or (deps.engine is not None and deps.engine.calls is not None)
    if call.status != "hangup" and runs_calls:
        await deps.live_op("call.hangup", customer, id)  # on the node that holds its channel
    record = await deps.store.calls.delete(customer, id)
    deps.events.emit("call_deleted", customer, call_view(record))
    return call_view(record)


@router.post("/{id}/hangup", response_model=CallView)
async def hangup_call(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Ends the call and returns it hung up; an ended call is returned unchanged."""
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.hangup", customer, id)


@live_operation("call.hangup", "call")
async def _hangup(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    return await _control(deps.call_registry().hangup(customer, id))


@router.post("/{id}/talk", response_model=CallView)
async def talk_call(customer: CustomerId, deps: Deps, id: ResourceId, body: TalkBody) -> dict[str, Any]:
    """Speaks `text` on the live call with the engine's TTS voice (`provider` names no other voice here)."""
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.talk", customer, id, body.model_dump(include={"text", "language", "voice_id"}))


@live_operation("call.talk", "call")
async def _talk(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    body = TalkBody.model_validate(args)
    return await _control(deps.call_registry().talk(customer, id, body.text, language=body.language,
                                                    voice_id=body.voice_id))


@router.post("/{id}/recording_start", response_model=CallView)
async def recording_start(customer: CustomerId, deps: Deps, id: ResourceId, body: RecordingBody) -> dict[str, Any]:
    if body.end_of_key not in RECORDING_KEYS:
        raise bad_request("end_of_key is one of '', 'none', 'any', '*', '#'", "end_of_key")
    if body.on_end_flow_id:
        raise bad_request("on_end_flow_id is not supported on recordings started over the API yet: use a "
                          "recording_start action with on_end_flow_id in the call's flow", "on_end_flow_id")
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.recording_start", customer, id, body.model_dump(
        include={"format", "duration", "end_of_silence", "end_of_key"}))


@live_operation("call.recording_start", "call")
async def _recording_start(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    body = RecordingBody.model_validate(args)
    return await _control(deps.call_registry().recording_start(
        customer, id, fmt=body.format, duration=body.duration, end_of_silence=body.end_of_silence,
        end_of_key=RECORDING_KEYS[body.end_of_key]))


@router.post("/{id}/recording_stop", response_model=CallView)
async def recording_stop(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.recording_stop", customer, id)


@live_operation("call.recording_stop", "call")
async def _recording_stop(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    return await _control(deps.call_registry().recording_stop(customer, id))


@router.post("/{id}/mute", response_model=CallView)
async def mute_call(customer: CustomerId, deps: Deps, id: ResourceId, body: MuteBody | None = None) -> dict[str, Any]:
    """Mutes the call's audio: `in` (what the caller says), `out` (what the caller hears) or `both`."""
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.mute", customer, id, {"direction": (body or MuteBody()).direction, "on": True})


@router.delete("/{id}/mute", response_model=CallView)
async def unmute_call(customer: CustomerId, deps: Deps, id: ResourceId,
                      body: MuteBody | None = None) -> dict[str, Any]:
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.mute", customer, id, {"direction": (body or MuteBody()).direction, "on": False})


@live_operation("call.mute", "call")
async def _mute(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    direction = MuteBody.model_validate({"direction": args.get("direction", "both")}).direction
    return await _control(deps.call_registry().mute(customer, id, direction, _switch(args)))


@router.post("/{id}/hold", response_model=CallView)
async def hold_call(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.hold", customer, id, {"on": True})


@router.delete("/{id}/hold", response_model=CallView)
async def unhold_call(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.hold", customer, id, {"on": False})


@live_operation("call.hold", "call")
async def _hold(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    return await _control(deps.call_registry().hold(customer, id, _switch(args)))


@router.post("/{id}/moh", response_model=CallView)
async def moh_on(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Music on hold to the caller (the call's flow goes on)."""
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.moh", customer, id, {"on": True})


@router.delete("/{id}/moh", response_model=CallView)
async def moh_off(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.calls.get(customer, id)
    return await deps.live_op("call.moh", customer, id, {"on": False})


@live_operation("call.moh", "call")
async def _moh(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    return await _control(deps.call_registry().moh(customer, id, _switch(args)))


def _switch(args: dict[str, Any]) -> bool:
    """The `on` argument of a forwarded on/off operation (a bool, as the route sent it)."""
    on = args.get("on")
    if not isinstance(on, bool):
        raise bad_request("the operation needs `on`: true or false")
    return on

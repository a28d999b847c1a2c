"""The placed-calls service without the API: refusals and failed dials as typed errors, endings of calls never
answered, the hooks hearing their own calls' news in order, tool calls relayed, and closing."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from flowengine.ai.aicall import AICallService, LiveAICall
from flowengine.ai.definitions import AIConfig
from flowengine.ai.placedcalls.endings import FAILED_TO_CONNECT
from flowengine.ai.placedcalls.errors import CallRefused, DialFailed, NotRunnable
from flowengine.ai.placedcalls.service import Assistance, PlacedCalls
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.rest import AriError
from flowengine.events import Event, EventBus
from flowengine.flow.context import Services
from flowengine.flow.service import FlowService
from flowengine.flow.variables import Variables
from flowengine.providers.llm.base import ToolCall
from flowengine.store import AI, AIcall, Customer, Store, generate_secret_key
from flowengine.store.frontdoor import FrontCall
from flowengine.store.teams import Team, TeamMember
from flowengine.store.timestamps import NOT_YET
from tests.fakes.ari import FakeAri
from tests.support import eventually

X = "7d9f3c52-0c7e-4f4e-9b1a-2f6c1d0e5a11"
"""The AI the rig's calls run."""


class KnownAIs:
    """The AIs the rig's calls run: `X` runs offline (the rule engine, Whisper, piper)."""

    def __init__(self) -> None:
        self.configs = {X: AIConfig(AI(id=X, customer_id=X, name="x", engine_model="rules.appointments"))}

    def get(self, ai_id: str) -> AIConfig | None:
        return self.configs.get(ai_id)


@dataclass
class RecordingHooks:
    """Hooks that keep what they were told."""

    statuses: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    relayed: list[tuple[str, ToolCall]] = field(default_factory=list)
    closed: bool = False

    async def status(self, call: FrontCall) -> None:
        self.statuses.append(call.status)

    async def event(self, call: FrontCall, event: Event) -> None:
        self.events.append(event)

    async def relay(self, call: FrontCall, live: LiveAICall, tool_call: ToolCall) -> tuple[bool, str] | None:
        self.relayed.append((call.id, tool_call))
        return True, "ten o'clock"

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Rig:
    calls: PlacedCalls
    store: Store
    ari: FakeAri
    bus: EventBus
    ai: AICallService
    ais: KnownAIs
    hooks: RecordingHooks
    services: Services
    customer: str


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", secret_keys=[generate_secret_key()])
    ari = FakeAri()
    bus = EventBus()
    services = Services(ari=ari, endpoints={"tel": "Local/{target}@test"}, dial_timeout_s=5, events=bus)  # type: ignore[arg-type]
    ais = KnownAIs()
    ai = AICallService(ais, ProviderPool(), None, MediaSettings(), store, events=bus)
    calls = PlacedCalls(store, bus, FlowService(services), ai)
    hooks = RecordingHooks()
    calls.watch("vapi", hooks)
    customer = await store.customers.create(Customer(name="placed"))
    try:
        yield Rig(calls, store, ari, bus, ai, ais, hooks, services, customer.id)
    finally:
        await calls.aclose()
        await store.aclose()


def front_call(rig: Rig, number: str = "5550100") -> FrontCall:
    return FrontCall(customer_id=rig.customer, kind="vapi", to_number=number, from_number="5550199")


async def stored(rig: Rig) -> list[FrontCall]:
    return (await rig.store.frontcalls.list_page(rig.customer, page_size=10)).items


async def test_a_number_no_endpoint_dials_is_refused_naming_its_field_and_nothing_is_kept(rig: Rig) -> None:
    rig.services.endpoints.clear()
    with pytest.raises(CallRefused, match="no outbound endpoint for address type 'tel'") as refused:
        await rig.calls.place(front_call(rig), Assistance("ai", X), number_field="customer.number")
    assert refused.value.field == "customer.number"
    assert await stored(rig) == []
    assert rig.ari.channels.originated == [] and rig.hooks.statuses == []


async def nothing_happened(rig: Rig) -> None:
    assert await stored(rig) == []
    assert rig.ari.channels.originated == [] and rig.hooks.statuses == []


async def test_an_ai_or_team_not_found_is_refused_before_dialling_naming_the_field(rig: Rig) -> None:
    with pytest.raises(NotRunnable, match="AI 'gone' not found") as refused:
        await rig.calls.place(front_call(rig), Assistance("ai", "gone", named_by="assistantId"))
    assert refused.value.field == "assistantId"
    with pytest.raises(NotRunnable, match="AI team 'nope' not found") as refused:
        await rig.calls.place(front_call(rig), Assistance("team", "nope", named_by="squadId"))
    assert refused.value.field == "squadId"
    await nothing_happened(rig)


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"engine_model": "groq.llama-3.3-70b-versatile"}, "engine_model", "no API key for groq"),
    ({"stt_language": "de"}, "stt_language", "'de' is not a language the offline Whisper"),
    ({"tts_voice_id": "nova"}, "tts_voice_id", "piper has no voice 'nova'"),
    ({"tts_type": "elevenlabs"}, "tts_type", "no api_key for elevenlabs"),
    ({"tts_type": "rime"}, "tts_type", "Rime voices"),
])
async def test_an_ai_that_cannot_run_now_is_refused_before_dialling_naming_the_field(
        rig: Rig, monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], field: str, says: str) -> None:
    for name in ("GROQ_API_KEY", "ELEVENLABS_API_KEY", "ELEVEN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    rig.ais.configs[X] = AIConfig(rig.ais.configs[X].ai.model_copy(update=changes))
    paths = {field: f"assistant.{field}"}
    with pytest.raises(NotRunnable, match=says) as refused:
        await rig.calls.place(front_call(rig), Assistance("ai", X, named_by="assistant", paths=paths))
    assert refused.value.field == f"assistant.{field}" and str(refused.value).startswith(f"AI 'x' ({X}): ")
    with pytest.raises(NotRunnable) as refused:  # no path for the field: the request's field that named the AI
        await rig.calls.place(front_call(rig), Assistance("ai", X, named_by="assistantId"))
    assert refused.value.field == "assistantId"
    await nothing_happened(rig)


async def test_a_dial_asterisk_refuses_is_dial_failed_and_the_call_ends_failed_to_connect(rig: Rig) -> None:
    rig.ari.channels.fail = AriError("Allocation failed")
    with pytest.raises(DialFailed, match="the number could not be dialled: Allocation failed"):
        await rig.calls.place(front_call(rig), Assistance("ai", X))
    [record] = await stored(rig)
    assert (record.status, record.ended_reason) == ("ended", FAILED_TO_CONNECT)
    await rig.calls.drain()
    assert rig.hooks.statuses == ["queued", "ended"]


async def test_without_asterisk_a_call_is_dial_failed(rig: Rig) -> None:
    calls = PlacedCalls(rig.store, rig.bus, FlowService(replace(rig.services, ari=None)), rig.ai)
    try:
        with pytest.raises(DialFailed, match="needs Asterisk"):
            await calls.place(front_call(rig), Assistance("ai", X))
    finally:
        await calls.aclose()
    [record] = await stored(rig)
    assert record.ended_reason == FAILED_TO_CONNECT


async def ended(rig: Rig, call_id: str) -> FrontCall:
    async def is_ended() -> bool:
        return (await rig.store.frontcalls.get(rig.customer, call_id)).status == "ended"

    await eventually(is_ended, 5, what="the call ended", interval=0.01)
    return await rig.store.frontcalls.get(rig.customer, call_id)


@pytest.mark.parametrize(("dialstatus", "cause", "reason"), [
    ("BUSY", 16, "customer-busy"),  # a Local channel ends normally: the Dial status tells busy apart
    ("NOANSWER", 16, "customer-did-not-answer"),
    ("", 17, "customer-busy"),
    ("", 19, "customer-did-not-answer"),
    ("", 34, FAILED_TO_CONNECT),
])
async def test_a_call_never_answered_ends_with_why(rig: Rig, dialstatus: str, cause: int, reason: str) -> None:
    ringing = await rig.calls.place(front_call(rig), Assistance("ai", X))
    assert ringing.status == "ringing"
    assert rig.ari.channels.originated == [("Local/5550100@test", ringing.call_id, "5550199")]
    if dialstatus:
        rig.ari.dial_status(ringing.call_id, dialstatus)
    rig.ari.destroyed(ringing.call_id, cause)
    record = await ended(rig, ringing.id)
    assert record.ended_reason == reason and record.tm_start == NOT_YET  # never started
    await rig.calls.drain()
    assert rig.hooks.statuses == ["queued", "ringing", "ended"]
    assert rig.ari.channels.handles[ringing.call_id].hung_up


def aicall_event(rig: Rig, type: str, data: dict[str, Any], customer: str = "") -> None:
    rig.bus.emit(type, customer or rig.customer, data)


async def test_the_events_of_a_calls_ai_call_reach_its_hooks_in_order_and_no_others(rig: Rig) -> None:
    ringing = await rig.calls.place(front_call(rig), Assistance("ai", X))
    aicall_event(rig, "aicall_status_progressing", {"id": "ai-1", "reference_id": ringing.call_id})
    aicall_event(rig, "aimessage_created", {"aicall_id": "ai-1", "role": "assistant", "content": "Hello."})
    aicall_event(rig, "aimessage_created", {"aicall_id": "ai-1", "content": "not yours"}, customer="someone")
    aicall_event(rig, "aimessage_created", {"aicall_id": "ai-2", "content": "another call"})
    aicall_event(rig, "speech_started", {"who": "caller"})  # whose AI call: not said, not delivered
    rig.bus.emit("speech_started", rig.customer, {"who": "caller"}, aicall_id="ai-1")
    await rig.calls.drain()
    assert [(e.type, dict(e.data).get("content")) for e in rig.hooks.events] == [
        ("aicall_status_progressing", None), ("aimessage_created", "Hello."), ("speech_started", None)]
    async def learnt() -> bool:  # the call record learns its AI call
        return (await rig.store.frontcalls.get(rig.customer, ringing.id)).aicall_id == "ai-1"

    await eventually(learnt, 5, what="the call record names its AI call", interval=0.01)


async def test_a_tool_call_of_a_placed_calls_ai_call_is_answered_by_its_hooks(rig: Rig) -> None:
    ringing = await rig.calls.place(front_call(rig), Assistance("ai", X))
    relay = rig.ai.tool_relay
    assert relay is not None
    call = ToolCall("t1", "get_time", "{}")
    ours = LiveAICall(AIcall(customer_id=rig.customer, reference_id=ringing.call_id), Variables())
    assert await relay(ours, call) == (True, "ten o'clock")
    assert rig.hooks.relayed == [(ringing.id, call)]
    other = LiveAICall(AIcall(customer_id=rig.customer), Variables())
    assert await relay(other, call) is None  # not a placed call: its tool's server answers


async def test_closing_cuts_the_calls_still_running_and_closes_the_hooks(rig: Rig) -> None:
    ringing = await rig.calls.place(front_call(rig), Assistance("ai", X))
    assert len(rig.calls.tasks) == 2  # the call's and the delivery worker
    await asyncio.sleep(0.05)  # the call's task waits for the answer
    await rig.calls.aclose()
    assert len(rig.calls.tasks) == 0 and rig.hooks.closed
    assert rig.ari.channels.handles[ringing.call_id].hung_up
    assert rig.ai.tool_relay is None
    with pytest.raises(ValueError, match="already have their hooks"):
        rig.calls.watch("vapi", RecordingHooks())


async def test_a_team_with_a_member_that_cannot_run_now_is_refused_before_dialling(rig: Rig) -> None:
    second = "0b6a4a7e-5d1f-4c7b-8e2a-3c9d8f1b2a44"
    rig.ais.configs[second] = AIConfig(AI(id=second, customer_id=X, name="billing", engine_model="rules.x",
                                          stt_language="ko-KR"))
    team = Team(customer_id=rig.customer, name="desk", start_member_id="m1", members=[
        TeamMember(id="m1", name="reception", ai_id=X), TeamMember(id="m2", name="billing", ai_id=second)])
    rig.ai.teams = {team.id: team}
    with pytest.raises(NotRunnable, match=r"team member .billing. \(AI .billing.*English only") as err:
        await rig.calls.place(front_call(rig), Assistance("team", team.id, named_by="squadId"))
    assert err.value.field == "squadId"
    await nothing_happened(rig)
    rig.ais.configs[second] = AIConfig(rig.ais.configs[second].ai.model_copy(update={"stt_language": "en-GB"}))
    ringing = await rig.calls.place(front_call(rig), Assistance("team", team.id, named_by="squadId"))
    assert ringing.status == "ringing"

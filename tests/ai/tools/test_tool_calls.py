"""AI call tools, DTMF, teams and events on real calls through the private Asterisk (model: the local
OpenAI-compatible server; tool servers: local aiohttp servers; voice: espeak)."""
from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from pydantic import SecretStr
from scipy.signal import resample_poly

from flowengine.ai import talk  # noqa: F401  (registers ai_talk)
from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIConfig
from flowengine.ai.tools.signing import SIGNATURE_HEADER, verify
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.client import AriClient
from flowengine.events import Event, EventBus
from flowengine.flow.context import ServicesLink
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.providers.llm import create_llm
from flowengine.providers.tts import TTS_PROVIDERS
from flowengine.providers.tts.base import TTSProvider
from flowengine.store import AI
from flowengine.store.teams import Team, TeamMember, TeamTransition
from tests.ai.fakes import ScriptedSTT
from tests.ai.test_ai_talk import Pool
from tests.conftest import Asterisk
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.flow.calls import Harness, flow_harness, place_call, speech_seconds
from tests.support import eventually

FLOW = {"id": "main", "actions": [
    {"type": "answer"},
    {"id": "agent", "type": "ai_talk", "option": {"assistance_id": "front"}},
    {"id": "after", "type": "variable_set", "option": {"key": "after", "value": "yes"}},
]}


class SpokenTTS(TTSProvider):
    """espeak that keeps a log of what it said and in which voice (what the caller was told)."""

    name = "espeak-logged"

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.inner = TTS_PROVIDERS.create("espeak")
        self.sample_rate = self.inner.sample_rate
        self.log = log

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncIterator[np.ndarray]:
        self.log.append((text, voice_id))
        async for chunk in self.inner.stream(text, voice_id=voice_id, language=language):
            yield chunk


class LoggedPool(Pool):
    def __init__(self, llm: Any, spoken: list[tuple[str, str]]) -> None:
        super().__init__(ScriptedSTT([]), llm)
        self.spoken = spoken

    def tts(self, tts_type: str) -> TTSProvider:
        return SpokenTTS(self.spoken)


class Source:
    def __init__(self, *items: Any) -> None:
        self.by: dict[str, Any] = {}
        for item in items:
            record = item.ai if isinstance(item, AIConfig) else item
            self.by[record.id] = self.by[record.name] = item

    def get(self, key: str) -> Any:
        return self.by.get(key)


def ai(name: str, n: int, **fields: Any) -> AI:
    fields.setdefault("parameter", {"first_message": "Hello, this is the front desk."})
    return AI(id=f"8a0e5c1e-0000-4000-8000-0000000001{n:02d}", customer_id=ENGINE_CUSTOMER_ID, name=name,
              engine_model="openai.gpt-test", init_prompt=f"You are {name}.", tts_type="espeak", **fields)


@asynccontextmanager
async def harness(asterisk: Asterisk, ari: AriClient, tmp: Path, server: FakeOpenAIServer, *configs: AIConfig,
                  teams: Source | None = None, **parts: Any) -> AsyncIterator[tuple[Harness, AICallService,
                                                                                   list[Event], list[tuple[str, str]]]]:
    """`parts` go to the flows' services (flow_harness: smtp, endpoints...)."""
    bus, events, spoken = EventBus(), [], []
    bus.subscribe(events.append)
    llm = create_llm("openai.gpt-test", "sk-test", {}, base_url=server.base_url)
    link = ServicesLink()  # connect_call, create_call and send_email dial and email with the flows' services
    service = AICallService(Source(*configs), LoggedPool(llm, spoken), ari, MediaSettings(), events=bus,
                            teams=teams, flow_services=link)  # type: ignore[arg-type]
    try:
        async with flow_harness(asterisk, ari, tmp, ai=service, link=link, **parts) as h:
            h.flows.add(FLOW)
            yield h, service, events, spoken
    finally:
        await llm.aclose()


@asynccontextmanager
async def tool_server(delay_s: float = 0.0, secret: str = "s3cret") -> AsyncIterator[tuple[str, list[tuple[bytes, str]]]]:
    """A function tool's server: records (body, signature header); answers Vapi's results shape, or 401
    when the request is not signed with `secret`."""
    seen: list[tuple[bytes, str]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((body, request.headers.get(SIGNATURE_HEADER, "")))
        await asyncio.sleep(delay_s)
        if not verify(secret, body, request.headers.get(SIGNATURE_HEADER, "")):
            return web.json_response({"error": "bad signature"}, status=401)
        call_id = json.loads(body)["message"]["toolCallList"][0]["id"]
        return web.json_response({"results": [{"toolCallId": call_id, "result": "Order 42 ships today."}]})

    app = web.Application()
    app.router.add_post("/tool", handle)
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/tool", seen
    finally:
        await runner.cleanup()


def function_tool(url: str, timeout_s: float) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup_order", "description": "Look up an order.",
                                             "parameters": {"type": "object", "properties": {
                                                 "order": {"type": "string"}}}},
            "server": {"url": url, "timeoutSeconds": timeout_s},
            "messages": [{"type": "request-start", "content": "One moment please."},
                         {"type": "request-failed", "content": "Sorry, our system is slow."}]}


async def press_after_greeting(service: AICallService, caller: Any, digit: str) -> None:
    await eventually(lambda: bool(service.live), what="AI call live")
    live = next(iter(service.live.values()))
    await eventually(lambda: live.conversation is not None and any(
        m.role == "assistant" for m in live.conversation.messages), timeout=15, what="greeting")
    await asyncio.sleep(1.5)  # the greeting has been played out
    await caller.send(digit)


async def test_function_tool_signed_request_dtmf_message_and_events_in_order(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with FakeOpenAIServer() as server, tool_server() as (url, seen):
        server.script(Reply(tool_calls=(("lookup_order", '{"order": "42"}'),)),
                      Reply(text="Your order ships today. Goodbye.", tool_calls=(("stop_service", "{}"),)))
        config = AIConfig(ai("front", 1, tool_names=["stop_service"], tools=[function_tool(url, 5)]),
                          tool_secrets={"lookup_order": SecretStr("s3cret")})
        async with harness(asterisk, ari, tmp_path, server, config) as (h, service, events, spoken):
            caller = await place_call(ari)
            await press_after_greeting(service, caller, "5")
            af = await h.wait_ended(timeout=40)
            aicall_id = af.variables["voipbin.aicall.id"]
    assert af.variables["after"] == "yes"  # stop_service: soft end, the flow went on
    dtmf = server.requests[0].body["messages"][-1]
    assert dtmf["role"] == "user" and dtmf["content"].startswith("type: DTMF_EVENT\ndigit: 5\nduration: ")
    body, signature = seen[0]
    assert verify("s3cret", body, signature) and json.loads(body)["message"]["type"] == "tool-calls"
    followup = server.requests[1].body["messages"]
    assert followup[-2]["role"] == "assistant" and followup[-2]["tool_calls"][0]["function"]["name"] == "lookup_order"
    result = json.loads(followup[-1]["content"])
    assert followup[-1]["role"] == "tool" and result["result"] == "success"
    assert result["message"] == "Order 42 ships today."
    assert ("One moment please.", "") in spoken and not any(t == "Sorry, our system is slow." for t, _ in spoken)
    stored = service.messages[aicall_id]
    assert [m.role for m in stored if m.tool_calls or m.role == "tool"] == ["assistant", "tool", "assistant", "tool"]
    # The tool's request-start line is in the transcript (the caller heard it), after the tool call.
    said = [m.content for m in stored if m.role == "assistant" and not m.tool_calls]
    assert "One moment please." in said and "Sorry, our system is slow." not in said
    first_call = next(i for i, m in enumerate(stored) if m.tool_calls)
    assert [m.content for m in stored[first_call:]].index("One moment please.") > 0
    mine = [e for e in events if e.extra.get("aicall_id") == aicall_id]
    types = [e.type for e in mine]
    order = ["aicall_status_progressing", "aicall_speech_started", "aicall_tool_call", "aicall_tool_result",
             "aicall_status_terminated"]
    assert [types.index(t) for t in order] == sorted(types.index(t) for t in order), types
    calls = [e.data for e in mine if e.type == "aicall_tool_call"]
    assert [c["name"] for c in calls] == ["lookup_order", "stop_service"] and calls[0]["kind"] == "declared"
    agent = [e.data["who"] for e in mine if e.type == "aicall_speech_started"]
    assert "agent" in agent
    assert sum(e.type == "aimessage_created" for e in mine) == len(stored)


async def test_slow_function_server_times_out_and_the_model_is_told(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with FakeOpenAIServer() as server, tool_server(delay_s=5.0) as (url, seen):
        server.script(Reply(tool_calls=(("lookup_order", '{"order": "42"}'),)),
                      Reply(text="I could not look that up. Goodbye.", tool_calls=(("stop_service", "{}"),)))
        config = AIConfig(ai("front", 2, tool_names=["stop_service"], tools=[function_tool(url, 0.5)]),
                          tool_secrets={"lookup_order": SecretStr("s3cret")})
        async with harness(asterisk, ari, tmp_path, server, config) as (h, service, events, spoken):
            caller = await place_call(ari)
            await press_after_greeting(service, caller, "1")
            af = await h.wait_ended(timeout=40)
    assert len(seen) == 1 and af.variables["after"] == "yes"
    told = json.loads(server.requests[1].body["messages"][-1]["content"])
    assert told["result"] == "failed" and "timed out" in told["message"]
    assert ("Sorry, our system is slow.", "") in spoken
    said = [m.content for m in next(iter(service.messages.values())) if m.role == "assistant" and not m.tool_calls]
    assert said.index("One moment please.") < said.index("Sorry, our system is slow.")
    results = [e.data for e in events if e.type == "aicall_tool_result"]
    assert results[0]["name"] == "lookup_order" and results[0]["success"] is False


def _segments(path: Path) -> list[np.ndarray]:
    """Stretches of speech in a recording (8 kHz), split at 0.4 s of quiet."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    if rate != 8000:
        pcm = resample_poly(pcm, 8000, rate)
    frame = 160
    loud = [bool(np.sqrt((pcm[i:i + frame] ** 2).mean()) > 300) for i in range(0, pcm.size - frame, frame)]
    out, start, quiet = [], None, 0
    for i, on in enumerate(loud + [False] * 20):
        if on:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= 20:
                out.append(pcm[start * frame:(i - quiet + 1) * frame])
                start, quiet = None, 0
    return out


def _pitch_hz(pcm: np.ndarray) -> float:
    """Median fundamental frequency of the voiced 40 ms frames (autocorrelation)."""
    f, found = 320, []
    for i in range(0, pcm.size - f, f):
        x = pcm[i:i + f] - pcm[i:i + f].mean()
        if np.sqrt((x**2).mean()) < 300:
            continue
        ac = np.correlate(x, x, "full")[f - 1:]
        lo, hi = 8000 // 400, 8000 // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            found.append(8000 / lag)
    return float(np.median(found)) if found else 0.0


async def test_team_transition_switches_member_and_the_voice_the_caller_hears(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    front = AIConfig(ai("reception", 3, tts_voice_id="en+m3", tool_names=["stop_service"],
                        parameter={"first_message": "Hello, this is reception. How can I help you today?"}))
    billing = AIConfig(ai("billing", 4, tts_voice_id="en+f5", tool_names=["stop_service"], parameter={}))
    team = Team(id="8a0e5c1e-0000-4000-8000-0000000002aa", customer_id=ENGINE_CUSTOMER_ID, name="front",
                start_member_id="m-reception", members=[
                    TeamMember(id="m-reception", name="Reception", ai_id=front.ai.id, transitions=[
                        TeamTransition(function_name="transfer_to_billing", description="billing questions",
                                       next_member_id="m-billing")]),
                    TeamMember(id="m-billing", name="Billing", ai_id=billing.ai.id)])
    flow = {**FLOW, "actions": [FLOW["actions"][0], {"id": "agent", "type": "ai_talk", "option": {  # type: ignore[index]
        "assistance_type": "team", "assistance_id": "front"}}, FLOW["actions"][2]]}  # type: ignore[index]
    async with FakeOpenAIServer() as server:
        server.script(Reply(tool_calls=(("transfer_to_billing", "{}"),)),
                      Reply(text="Billing here. I can explain every single charge on your bill today.",
                            tool_calls=(("stop_service", "{}"),)))
        async with harness(asterisk, ari, tmp_path, server, front, billing, teams=Source(team)) as (
                h, service, events, spoken):
            h.flows.add(flow)
            caller = await place_call(ari, record=True)
            await press_after_greeting(service, caller, "2")
            live = next(iter(service.live.values()))
            af = await h.wait_ended(timeout=40)
    assert af.variables["after"] == "yes"
    assert live.record.assistance_type == "team" and live.record.current_member_id == "m-billing"
    assert live.record.ai_tts_voice_id == "en+f5"
    first_tools = {t["function"]["name"] for t in server.requests[0].body["tools"]}
    assert "transfer_to_billing" in first_tools
    assert server.requests[1].body["messages"][-1]["role"] == "system"  # the new member's prompt
    assert server.requests[1].body["messages"][-1]["content"] == "You are billing."
    notes = [json.loads(m.content) for m in service.messages[live.record.id] if m.role == "notification"]
    assert notes and notes[0]["type"] == "member_switched" and notes[0]["to_member"]["ai"]["tts_voice_id"] == "en+f5"
    assert [v for t, v in spoken if t.startswith("Hello")] == ["en+m3"]
    assert all(v == "en+f5" for t, v in spoken if t.startswith(("Billing", "I can")))
    assert any(e.type == "aicall_member_switched" for e in events)
    heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
    await eventually(lambda: asterisk.channels() == [], what="call over, recording closed")
    await eventually(heard.exists, what="caller recording")
    parts = _segments(heard)
    assert len(parts) >= 2, [p.size for p in parts]
    before, after = _pitch_hz(parts[0]), _pitch_hz(parts[-1])
    assert before > 0 and after > 1.4 * before, (before, after)  # the caller hears a different (higher) voice


async def test_connect_call_ends_the_ai_and_bridges_the_caller(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with FakeOpenAIServer() as server:
        server.script(Reply(text="Connecting you now.", tool_calls=(
            ("connect_call", '{"destinations": [{"type": "extension", "target": "hear-ai1"}]}'),)))
        config = AIConfig(ai("front", 5, tool_names=["connect_call"]))
        async with harness(asterisk, ari, tmp_path, server, config) as (h, service, events, _spoken):
            caller = await place_call(ari, record=True)
            await press_after_greeting(service, caller, "0")
            af = await h.wait_ended(timeout=40)
            live = service.recent[-1]
    assert live.record.ended_reason == "assistant-forwarded-call" and live.end_kind == "soft"
    assert af.variables["after"] == "yes" and af.ended_reason == "finished"
    spool = asterisk.instance.directory / "spool" / "recording"
    await eventually(lambda: asterisk.channels() == [], what="all hung up")
    await eventually(lambda: (spool / "hear-ai1.wav").exists(), what="the callee answered and recorded")
    heard = spool / f"{caller.recording}.wav"
    await eventually(heard.exists, what="caller recording")
    assert speech_seconds(heard) > 3.0  # the agent, then the callee's tt-monkeys
    assert [e.data["kind"] for e in events if e.type == "aicall_tool_call"] == ["voipbin"]

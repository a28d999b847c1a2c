"""The remaining AI call tools on real calls (model: the local OpenAI-compatible server issuing the tool
calls): a stored AI's signed function tool after a restart with stop_media cutting its queued message;
dtmf, send_email, get_aicall_messages, create_call and endCall in one call; transferCall's message
heard before the bridge."""
from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from flowengine.ai.definitions import AIConfig
from flowengine.ai.sources import StoreResources
from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDtmfReceived, ChannelEnteredBridge
from flowengine.asterisk.ari.events import Event as AriEvent
from flowengine.asterisk.instance import free_port
from flowengine.events import Event
from flowengine.flow.context import SmtpSettings
from flowengine.providers.tts import TTS_PROVIDERS
from flowengine.store import Store, generate_secret_key
from tests.ai.tools.test_tool_calls import ai, function_tool, harness, press_after_greeting, tool_server
from tests.api.conftest import new_tenant
from tests.conftest import Asterisk
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.flow.calls import place_call, speech_seconds
from tests.flow.test_email import Inbox
from tests.support import eventually

GREETING = "Hello, this is the front desk."
HOLD = ("Please hold on while I look up your order in our system. This can take a little while, because "
        "our order database is large and it has to check every warehouse, every carrier and every shipment "
        "that belongs to your account before it can tell me anything useful about it.")
TRANSFER = ("I am transferring you to our billing department now. Please stay on the line, someone from "
            "billing will pick up in a moment and help you with your invoice.")


async def synthesized(tmp: Path, name: str, text: str) -> Path:
    """`text` as the agent's espeak voice says it, in a WAV (to measure how much of it a caller heard)."""
    tts = TTS_PROVIDERS.create("espeak")
    chunks = [chunk async for chunk in tts.stream(text)]
    path = tmp / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(tts.sample_rate)
        w.writeframes(np.concatenate(chunks).astype("<i2").tobytes())
    return path


def tool_result(request_body: dict[str, Any], name: str) -> dict[str, Any]:
    """The content (VoIPBIN's tool result object) of the tool message answering `name` in a model request."""
    messages = request_body["messages"]
    ids = {c["id"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []
           if c["function"]["name"] == name}
    found = [m for m in messages if m["role"] == "tool" and m["tool_call_id"] in ids]
    assert len(found) == 1, messages
    result: dict[str, Any] = json.loads(found[0]["content"])
    return result


async def heard_recording(asterisk: Asterisk, name: str) -> Path:
    path = asterisk.instance.directory / "spool" / "recording" / f"{name}.wav"
    await eventually(lambda: asterisk.channels() == [], what="all hung up, recording closed")
    await eventually(path.exists, what="caller recording")
    return path


async def test_a_stored_ais_function_tool_is_signed_after_a_restart_and_stop_media_cuts_its_message(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    url_db, key, secret = f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", generate_secret_key(), "stored-s3cret"
    async with FakeOpenAIServer() as server, tool_server(secret=secret) as (url, seen):
        async with await Store.open(url_db, secret_keys=[key]) as store:  # the engine before the restart
            tenant = await new_tenant(store)
            app = create_app(ApiDeps(store=store, admin_key=SecretStr("admin-key-for-tests-0123456789")))
            tool = function_tool(url, 5)
            tool["server"]["secret"] = secret
            tool["messages"] = [{"type": "request-start", "content": HOLD}]
            body = {"name": "front", "engine_model": "openai.gpt-test", "init_prompt": "You are front.",
                    "tts_type": "espeak", "parameter": {"first_message": GREETING},
                    "tool_names": ["stop_media", "stop_service"], "tools": [tool]}
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                made = await http.post("/v1.0/ais", json=body, headers=tenant.headers)
            assert made.status_code == 200, made.text
            assert secret not in made.text
        async with await Store.open(url_db, secret_keys=[key]) as store:  # after the restart
            config = await StoreResources(store).load_ai(tenant.id, made.json()["id"])
        server.script(Reply(tool_calls=(("lookup_order", '{"order": "42"}'), ("stop_media", "{}"))),
                      Reply(text="Your order ships today. Goodbye.", tool_calls=(("stop_service", "{}"),)))
        async with harness(asterisk, ari, tmp_path, server, config) as (h, service, _events, spoken):
            caller = await place_call(ari, record=True)
            await press_after_greeting(service, caller, "7")
            af = await h.wait_ended(timeout=60)
    assert af.variables["after"] == "yes"
    assert len(seen) == 1 and seen[0][1].startswith("sha256=")  # tool_server answered 401 to a wrong signature
    looked_up = tool_result(server.requests[1].body, "lookup_order")
    assert looked_up["result"] == "success" and looked_up["message"] == "Order 42 ships today.", looked_up
    stopped = tool_result(server.requests[1].body, "stop_media")
    assert stopped["result"] == "success" and stopped["message"].startswith("media stopped (")
    assert int(stopped["message"].removeprefix("media stopped (").split(" ")[0]) > 0  # queued speech dropped
    assert (HOLD, "") in spoken
    heard = speech_seconds(await heard_recording(asterisk, caller.recording))
    whole_hold = speech_seconds(await synthesized(tmp_path, "hold", HOLD))
    assert whole_hold > 8 and heard < whole_hold, (heard, whole_hold)  # the caller never heard it all


async def test_dtmf_email_transcript_and_new_call_then_end_call(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    inbox, port = Inbox(), free_port("127.0.0.1")
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    email = {"destinations": [{"type": "email", "target": "ops@example.com"}], "subject": "Callback wanted",
             "content": "The caller of order 42 wants a callback."}
    new_call = {"destinations": [{"type": "extension", "target": "flowcall"}], "actions": [
        {"type": "variable_set", "option": {"key": "made_by", "value": "the agent"}}, {"type": "hangup"}]}
    try:
        async with FakeOpenAIServer() as server:
            server.script(
                Reply(tool_calls=(("dtmf", '{"digits": "42#"}'), ("send_email", json.dumps(email)),
                                  ("get_aicall_messages", '{"run_llm": true}'), ("create_call", json.dumps(new_call)))),
                Reply(text="All done. Goodbye.", tool_calls=(("endCall", "{}"),)))
            config = AIConfig(ai("front", 11, tool_names=["send_email", "get_aicall_messages", "create_call"],
                                 tools=[{"type": "dtmf"}, {"type": "endCall"}]))
            smtp_settings = SmtpSettings(host="127.0.0.1", port=port, sender="engine@example.com")
            async with harness(asterisk, ari, tmp_path, server, config, smtp=smtp_settings) as (
                    h, service, events, spoken):
                caller = await place_call(ari)
                pressed: list[str] = []
                watch = ari.subscribe(lambda e: pressed.append(e.digit) if isinstance(e, ChannelDtmfReceived) else None,
                                      channel_id=caller.leg.id)
                try:
                    await press_after_greeting(service, caller, "5")
                    await h.wait_ended(count=2, timeout=60)
                finally:
                    watch.close()
                live = service.recent[-1]
    finally:
        smtp.stop()
    assert pressed == ["4", "2", "#"]  # the far end of the call received the agent's digits
    assert [(m["To"], m["Subject"]) for m in inbox.messages] == [("ops@example.com", "Callback wanted")]
    assert "order 42 wants a callback" in inbox.messages[0].get_payload(decode=True).decode()
    transcript = json.loads(tool_result(server.requests[1].body, "get_aicall_messages")["message"])
    assert next(m["content"] for m in transcript if m["role"] == "assistant") == GREETING
    assert any(m["role"] == "user" and m["content"].startswith("type: DTMF_EVENT\ndigit: 5") for m in transcript)
    created = json.loads(tool_result(server.requests[1].body, "create_call")["message"])
    assert created == {"requested": 1, "created": 1, "partial": False, "errors": []}
    dialed = [af for af in h.ended if af.variables.get("made_by") == "the agent"]
    assert len(dialed) == 1 and dialed[0].variables["voipbin.call.direction"] == "outgoing"
    main = next(af for af in h.ended if af is not dialed[0])
    assert live.record.ended_reason == "assistant-ended-call" and live.end_kind == "hard"
    assert "after" not in main.variables  # endCall ends the call, not only the conversation
    assert ("All done.", "") in spoken or any(t.startswith("All done") for t, _ in spoken)
    kinds = {e.data["name"]: e.data["kind"] for e in events if e.type == "aicall_tool_call"}
    assert kinds == {"dtmf": "declared", "send_email": "voipbin", "get_aicall_messages": "voipbin",
                     "create_call": "voipbin", "endCall": "declared"}
    await eventually(lambda: asterisk.channels() == [], what="every call hung up")


async def test_transfer_call_says_its_message_before_the_caller_is_bridged(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    tool = {"type": "transferCall", "destinations": [
        {"type": "number", "number": "flowcall", "message": TRANSFER, "description": "billing"}]}
    order: list[str] = []

    def on_bus(event: Event) -> None:
        if event.type == "aicall_tool_result":
            order.append(f"result:{event.data['name']}")

    def on_ari(event: AriEvent) -> None:
        if isinstance(event, ChannelEnteredBridge) and "flowcall@" in event.channel.name:
            order.append("callee bridged")

    async with FakeOpenAIServer() as server:
        server.script(Reply(tool_calls=(("transferCall", '{"destination": "flowcall"}'),)))
        config = AIConfig(ai("front", 12, tools=[tool]))
        async with harness(asterisk, ari, tmp_path, server, config,
                           endpoints={"tel": "Local/{target}@flowengine-test-callee"}) as (h, service, _events, spoken):
            assert service.events.bus is not None
            service.events.bus.subscribe(on_bus)
            watch = ari.subscribe(on_ari, event_type="ChannelEnteredBridge")
            try:
                caller = await place_call(ari, record=True)
                await press_after_greeting(service, caller, "3")
                await eventually(lambda: "callee bridged" in order, timeout=40, what="the caller bridged")
                await caller.hangup()
                af = await h.wait_ended(timeout=30)
            finally:
                watch.close()
            live = service.recent[-1]
    assert order == ["result:transferCall", "callee bridged"], order
    assert live.record.ended_reason == "assistant-forwarded-call"
    assert "after" not in af.variables  # the caller hung up while bridged: the flow ended there
    assert (TRANSFER, "") in spoken
    heard = speech_seconds(await heard_recording(asterisk, caller.recording))  # the callee is silent
    said = speech_seconds(await synthesized(tmp_path, "said", f"{GREETING} {TRANSFER}"))
    assert heard > 0.7 * said, (heard, said)  # greeting and the whole transfer message reached the caller

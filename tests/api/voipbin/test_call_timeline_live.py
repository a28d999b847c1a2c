"""GET /v1.0/calls/{id}/timeline and `flowengine calls show ID` after a real call through a flow with an AI
step on the private Asterisk: flow actions, the AI's start and end, the transcript, turn latencies, a
barge-in, a tool call, webhooks sent and the hangup come back in the order they happened."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.rest import AriError
from tests.ai.test_ai_talk import speech_file
from tests.api.voipbin.test_aicalls_live import AILive, ailive, answer_far_half, speak, until
from tests.api.webhooks.conftest import Receiver, free_port
from tests.conftest import Asterisk
from tests.fakes.openai_server import Reply
from tests.support import eventually

__all__ = ["ailive"]  # the fixture, used by name
GREETING = "Hello, this is the dental office."
LONG = ("We open at nine on Monday morning, and we close at five in the afternoon; on Saturdays we open at "
        "ten and close at one, and on Sundays the office stays closed all day long.")


def flowengine(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    return subprocess.run([sys.executable, "-m", "flowengine.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def types(entries: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in entries]


@pytest.mark.asterisk
async def test_a_call_with_an_ai_step_has_an_ordered_timeline(
        ailive: AILive, ari: AriClient, asterisk: Asterisk, tmp_path: Path) -> None:
    live, h = ailive, ailive.tenant.headers
    store = live.engine.store
    assert store is not None and live.engine.timeline is not None and live.engine.webhooks is not None
    receiver = Receiver(free_port())
    await receiver.up()
    try:
        await store.customers.update(live.tenant.id, webhook_uri=receiver.url("hooks"), webhook_method="POST")
        live.llm.script(Reply(text=LONG), Reply(text="Goodbye now.", tool_calls=(("stop_service", "{}"),)),
                        Reply(text="Bye."))
        question = speech_file(tmp_path, "question", "Hello, what time do you open on Monday morning?")
        ai = await live.http.post("/v1.0/ais", headers=h, json={
            "name": "receptionist", "engine_model": "openai.gpt-test", "engine_key": "sk-test-key-123",
            "init_prompt": "You are a receptionist.", "tts_type": "espeak", "tool_names": ["stop_service"],
            "parameter": {"first_message": GREETING}})
        assert ai.status_code == 200, ai.text

        async def dial() -> dict[str, Any]:
            r = await live.http.post("/v1.0/calls", headers=h, json={
                "source": {"type": "tel", "target": "5550100"}, "destinations": [{"type": "tel", "target": "1000"}],
                "actions": [{"id": "pick-up", "type": "answer"},
                            {"id": "agent", "type": "ai_talk", "option": {"assistance_id": ai.json()["id"]}},
                            {"id": "note", "type": "variable_set", "option": {"key": "after_ai", "value": "yes"}},
                            {"id": "bye", "type": "hangup"}]})
            assert r.status_code == 200, r.text
            calls: list[dict[str, Any]] = r.json()["calls"]
            return calls[0]

        leg, call = await answer_far_half(ari, dial)
        try:
            service = live.engine.services.ai
            assert service is not None
            await eventually(lambda: any(c.conversation is not None for c in service.live.values()), timeout=60,
                             what="the AI call's conversation")
            conversation = next(c.conversation for c in service.live.values() if c.conversation is not None)
            assert conversation is not None
            await eventually(lambda: conversation.speaking, timeout=60, what="greeting spoken")
            await eventually(lambda: not conversation.speaking, timeout=60, what="greeting played")
            await speak(leg, question)
            await eventually(lambda: conversation.speaking, timeout=120, what="the long answer starts")
            await speak(leg, question)  # over the answer: a barge-in, then the model says goodbye and stops

            async def hung_up() -> bool:
                r = await live.http.get(f"/v1.0/calls/{call['id']}", headers=h)
                return bool(r.json()["status"] == "hangup")

            await until(hung_up, 120, "the flow hung up after the AI step")
        finally:
            with contextlib.suppress(AriError):
                await leg.hangup()
        # the call's status is stored before its call_hangup event is published: the API can say "hangup" while
        # the dispatcher has nothing to drain yet (a full run failed on that)
        await eventually(lambda: any(hit.body["type"] == "call_hangup" and hit.body["data"]["id"] == call["id"]
                                     for hit in receiver.hits), timeout=30, what="the call_hangup webhook")
        await live.engine.webhooks.drain(timeout=30)
        await live.engine.timeline.drain()
    finally:
        await receiver.down()

    r = await live.http.get(f"/v1.0/calls/{call['id']}/timeline", headers=h)
    assert r.status_code == 200, r.text
    timeline = r.json()
    entries = timeline["result"]
    kinds = types(entries)
    assert kinds[0] == "call_created", kinds
    assert [e["t_ms"] for e in entries] == sorted(e["t_ms"] for e in entries)
    actions = [e["data"]["type"] for e in entries if e["type"] == "action"]
    assert actions == ["answer", "ai_talk", "variable_set", "hangup"], kinds
    flow = [k for k in kinds if k != "webhook"]  # webhooks are sent alongside, in their own time
    at = {k: flow.index(k) for k in ("ai_started", "turn", "barge_in", "tool_call", "ai_ended", "call_hangup")}
    assert at["ai_started"] < at["turn"] < at["ai_ended"] < at["call_hangup"], flow
    assert at["ai_started"] < at["barge_in"] < at["tool_call"] < at["ai_ended"], flow
    said = [(e["data"]["role"], e["data"]["text"]) for e in entries if e["type"] == "message"]
    assert said[0] == ("assistant", GREETING) and ("user", said[1][1]) == said[1], said
    turns = [e["data"] for e in entries if e["type"] == "turn"]
    assert [t["index"] for t in turns] == [1, 2], turns  # the question, and the one asked over the answer
    for key in ("voice_to_voice_ms", "endpointing_ms", "stt_ms", "llm_first_token_ms", "tts_first_audio_ms"):
        assert turns[0][key] is not None and turns[0][key] >= 0, (key, turns[0])
    assert turns[0]["voice_to_voice_ms"] >= turns[0]["endpointing_ms"] + turns[0]["llm_first_token_ms"]
    tool = next(e["data"] for e in entries if e["type"] == "tool_call")
    assert tool["name"] == "stop_service"
    hooks = [e["data"] for e in entries if e["type"] == "webhook"]
    assert hooks and all(hk["outcome"] == "delivered" and hk["status"] == 200 for hk in hooks), hooks
    assert {"call_hangup", "aicall_status_progressing"} <= {hk["event_type"] for hk in hooks}
    received = [hit.body["type"] for hit in receiver.hits
                if hit.body["type"].startswith("call_") and hit.body["data"]["id"] == call["id"]]
    assert sorted(hk["event_type"] for hk in hooks if hk["event_type"].startswith("call_")) == sorted(received)
    hangup = next(e["data"] for e in entries if e["type"] == "call_hangup")
    assert hangup == {"hangup_by": "local", "hangup_reason": "normal"}
    summary = timeline["summary"]
    assert summary["turns"] == len(turns) and summary["barge_ins"] >= 1 and summary["tool_calls"] == 1
    assert summary["ai_ended_reason"] == "assistant-ended-call", summary  # the stop_service tool
    assert summary["flow_ended_reason"] == "hangup action (normal)", summary
    assert timeline["hangup_reason"] == "normal"

    # another customer, an unknown call: 404
    theirs = await live.http.get(f"/v1.0/calls/{call['id']}/timeline", headers=live.other.headers)
    assert theirs.status_code == 404, theirs.text
    unknown = await live.http.get(f"/v1.0/calls/{uuid.uuid4()}/timeline", headers=h)
    assert unknown.status_code == 404, unknown.text

    # the operator's CLI reads the same store
    config = tmp_path / "engine.yaml"
    config.write_text(f"store:\n  url: sqlite+aiosqlite:///{tmp_path / 'engine.db'}\n")
    shown = flowengine("calls", "show", call["id"], "--config", str(config))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"call {call['id']}: outgoing tel:5550100 -> tel:1000")
    assert any("action" in line and "ai_talk (id agent)" in line for line in lines)
    assert any(line.split()[1:3] == ["turn", "1"] and "voice-to-voice" in line for line in lines), lines
    assert any("barge-in" in line for line in lines) and any("stop_service" in line for line in lines)
    assert not any(" webhook " in line for line in lines)  # all delivered: counted in the summary line only
    assert f"webhooks sent {len(hooks)} ({len(hooks)} delivered)" in lines[-2], lines[-2]
    listed = flowengine("calls", "show", call["id"], "--config", str(config), "--webhooks")
    assert sum(" webhook " in line for line in listed.stdout.splitlines()) == len(hooks)
    assert lines[-1].startswith("end: call normal (by local)"), lines[-1]
    as_json = flowengine("calls", "show", call["id"], "--config", str(config), "--json")
    assert json.loads(as_json.stdout)["result"] == entries
    missing = flowengine("calls", "show", str(uuid.uuid4()), "--config", str(config))
    assert missing.returncode == 1 and "no call" in missing.stderr, missing.stderr

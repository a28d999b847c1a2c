"""Human takeover through the API on the real private Asterisk: pause an AI call, an agent leg placed with
POST /v1.0/calls joins its confbridge, caller and agent talk, the agent hangs up, the AI call resumes."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from flowengine.ai.voice.room import joined_note, left_note
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.rest import AriError
from tests.ai.voice.test_room import AGENT_HZ, CALLER_HZ, heard_meanwhile, tone_file
from tests.api.voipbin import test_aicalls_live
from tests.api.voipbin.test_aicalls_live import AILive, answer_far_half, on_hold, until
from tests.conftest import Asterisk
from tests.flow.calls import tone_seconds
from tests.support import eventually

GREETING = "Hello, this is the dental office."
ailive = test_aicalls_live.ailive  # the engine with its API and AI calls, shared with the pause/resume test


@pytest.mark.asterisk
async def test_an_agent_leg_placed_through_the_api_takes_over_a_paused_ai_call(
        ailive: AILive, ari: AriClient, asterisk: Asterisk, tmp_path: Path) -> None:
    live, h = ailive, ailive.tenant.headers
    ai = await live.http.post("/v1.0/ais", headers=h, json={
        "name": "receptionist", "engine_model": "openai.gpt-test", "engine_key": "sk-test-key-123",
        "tts_type": "espeak", "parameter": {"first_message": GREETING}})
    assert ai.status_code == 200, ai.text

    async def dial(actions: list[dict[str, Any]], target: str) -> dict[str, Any]:
        r = await live.http.post("/v1.0/calls", headers=h, json={
            "source": {"type": "tel", "target": "5550100"}, "destinations": [{"type": "tel", "target": target}],
            "actions": actions})
        assert r.status_code == 200, r.text
        calls: list[dict[str, Any]] = r.json()["calls"]
        return calls[0]

    caller, _ = await answer_far_half(ari, lambda: dial([
        {"type": "answer"}, {"type": "ai_talk", "option": {"assistance_id": ai.json()["id"]}}, {"type": "hangup"}],
        "1000"))
    agent = None
    try:
        listed: list[dict[str, Any]] = []

        async def progressing() -> bool:
            listed[:] = (await live.get("/v1.0/aicalls", status="progressing"))["result"]
            return bool(listed)

        await until(progressing, 60, "a progressing AI call")
        aid, room = listed[0]["id"], listed[0]["confbridge_id"]
        service = live.engine.services.ai
        assert service is not None
        conversation = service.live[aid].conversation
        assert conversation is not None
        await eventually(lambda: conversation.speaking, timeout=30, what="greeting started")
        await eventually(lambda: not conversation.speaking, timeout=30, what="greeting played")

        # 1. pause: the caller hears music on hold
        paused = await live.http.post(f"/v1.0/aicalls/{aid}/pause", headers=h)
        assert paused.status_code == 200 and paused.json()["status"] == "pausing", paused.text
        await until(lambda: on_hold(asterisk, room), 15, "music on hold")

        # 2. the agent's leg: a call whose actions join the AI call's confbridge, then hang up
        agent, agent_call = await answer_far_half(ari, lambda: dial([
            {"type": "confbridge_join", "option": {"confbridge_id": room}}, {"type": "hangup"}], "2000"))

        async def music_stopped() -> bool:
            return not await on_hold(asterisk, room)

        await until(music_stopped, 15, "music stopped for the agent")
        spool = asterisk.instance.directory / "spool" / "recording"
        heard = await heard_meanwhile(ari, {"caller": (caller, tone_file(tmp_path, CALLER_HZ, 2.5)),
                                            "agent": (agent, tone_file(tmp_path, AGENT_HZ, 2.5))}, spool)
        assert tone_seconds(heard["caller"], AGENT_HZ) > 1.5  # the caller hears the agent
        assert tone_seconds(heard["agent"], CALLER_HZ) > 1.5  # the agent hears the caller
        assert not live.llm.requests  # the paused AI heard nothing of it

        # 3. the agent hangs up: their call ends, the caller is on hold again
        await agent.hangup()

        async def agent_gone() -> bool:
            return bool((await live.get(f"/v1.0/calls/{agent_call['id']}"))["status"] == "hangup")

        await until(agent_gone, 15, "the agent's call ended")
        await until(lambda: on_hold(asterisk, room), 15, "music on hold after the agent left")

        # 4. resume: the AI call goes on; its transcript says a human agent was there
        resumed = await live.http.post(f"/v1.0/aicalls/{aid}/resume", headers=h)
        assert resumed.status_code == 200 and resumed.json()["status"] == "progressing", resumed.text
        await until(music_stopped, 15, "music stopped on resume")
        notes = [m["content"] for m in await live.messages(aid) if m["role"] == "system" and "agent" in m["content"]]
        assert notes == [joined_note(agent_call["id"]), left_note(agent_call["id"])]
        assert GREETING in await live.said(aid, "assistant")  # the conversation before the takeover is kept
    finally:
        for leg in (agent, caller):
            if leg is not None:
                with contextlib.suppress(AriError):
                    await leg.hangup()

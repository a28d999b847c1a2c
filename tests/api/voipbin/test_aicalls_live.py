"""/v1.0/aicalls pause, resume and terminate on a live voice AI call on the real private Asterisk.

A whole engine (its own ARI app, the REST API, AI calls) dials the caller through a Local channel whose far
half enters this test's ARI app (the `flowengine-inbound` context), so the test answers it and speaks into
the call; Whisper hears it and the local OpenAI-compatible server answers."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import RecordingFinished, StasisStart
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.ari.rest import AriError
from flowengine.config import (
    ApiConfig,
    AsteriskConfig,
    CallsConfig,
    Config,
    OutboundConfig,
    SpeechConfig,
    StoreConfig,
)
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import generate_secret_key
from tests.ai.test_ai_talk import speech_file
from tests.api.conftest import Tenant, new_tenant
from tests.conftest import Asterisk
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.flow.calls import speech_seconds
from tests.support import eventually

GREETING = "Hello, this is the dental office."
REPLIES = [f"Answer number {n}." for n in ("one", "two", "three", "four", "five", "six")]


@dataclass
class AILive:
    engine: Engine
    http: httpx.AsyncClient
    tenant: Tenant
    other: Tenant
    llm: FakeOpenAIServer

    async def get(self, path: str, who: Tenant | None = None, **params: Any) -> Any:
        r = await self.http.get(path, params=params, headers=(who or self.tenant).headers)
        assert r.status_code == 200, r.text
        return r.json()

    async def messages(self, aicall_id: str) -> list[dict[str, Any]]:
        page: list[dict[str, Any]] = (await self.get("/v1.0/aimessages", aicall_id=aicall_id,
                                                     page_size=100))["result"]
        return sorted(page, key=lambda m: str(m["tm_create"]))

    async def said(self, aicall_id: str, role: str) -> list[str]:
        return [m["content"] for m in await self.messages(aicall_id) if m["role"] == role]


@pytest.fixture
async def ailive(asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AILive]:
    async with FakeOpenAIServer() as llm:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", llm.base_url)
        config = Config(
            asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
                update={"app": "flowengine-aicalltest"}),
            api=ApiConfig(enabled=True, port=0),
            store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}",
                              secret_key=SecretStr(generate_secret_key())),
            speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech")),
            # the far half of the Local channel enters the test's ARI app (the session Asterisk's app)
            outbound=OutboundConfig(endpoints={"tel": "Local/{target}@flowengine-inbound"}),
            calls=CallsConfig(recordings_dir=str(asterisk.instance.directory / "spool" / "recording")),
            flows_dir=str(tmp_path / "flows"),
        )
        (tmp_path / "flows").mkdir()
        engine = Engine(config)
        await engine.start()
        try:
            assert engine.store is not None and engine.api is not None
            tenant = await new_tenant(engine.store, "A")
            other = await new_tenant(engine.store, "B")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}", timeout=60) as http:
                yield AILive(engine, http, tenant, other, llm)
        finally:
            await engine.aclose()
    await eventually(lambda: not [c for c in asterisk.channels() if "flowengine-inbound" in c], timeout=15,
                     what="test channels gone")


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll an async `check` (an HTTP look) until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def on_hold(asterisk: Asterisk, bridge_id: str) -> bool:
    """Music on hold plays in the bridge: ARI's MOH announcer channel is in it. Asterisk marks announcer
    channels internal, so neither ARI's channel list nor AMI's MusicOnHoldStart show it; the CLI does."""
    lines = (await asyncio.to_thread(asterisk.instance.cli, "core show channels concise")).splitlines()
    return any(line.startswith("Announcer/ARI_MOH") and bridge_id in line.split("!") for line in lines)


async def answer_far_half(ari: AriClient, dial: Callable[[], Awaitable[dict[str, Any]]]
                          ) -> tuple[ChannelHandle, dict[str, Any]]:
    """Start the call (`dial()`), wait for the Local channel's far half in the test app and answer it."""
    events = ari.events()
    try:
        call = await dial()
        started = await events.wait_for(StasisStart, timeout=30)
    finally:
        events.close()
    leg = await ari.channels.get(started.channel.id)
    await leg.answer()
    return leg, call


async def speak(leg: ChannelHandle, media: str) -> None:
    """The caller says the prepared prompt (returns once it was played into the call)."""
    playback = await leg.play(media)
    await playback.wait(30)


@pytest.mark.asterisk
async def test_pause_resume_terminate_over_http_act_on_the_live_ai_call(
        ailive: AILive, ari: AriClient, asterisk: Asterisk, tmp_path: Path) -> None:
    live, h = ailive, ailive.tenant.headers
    live.llm.script(*[Reply(text=t) for t in REPLIES])
    question = speech_file(tmp_path, "question", "Hello, what time do you open on Monday morning?")
    ai = await live.http.post("/v1.0/ais", headers=h, json={
        "name": "receptionist", "engine_model": "openai.gpt-test", "engine_key": "sk-test-key-123",
        "init_prompt": "You are a short-spoken receptionist.", "tts_type": "espeak",
        "parameter": {"first_message": GREETING}})
    assert ai.status_code == 200, ai.text

    async def dial() -> dict[str, Any]:
        r = await live.http.post("/v1.0/calls", headers=h, json={
            "source": {"type": "tel", "target": "5550100"}, "destinations": [{"type": "tel", "target": "1000"}],
            "actions": [{"type": "answer"},
                        {"id": "agent", "type": "ai_talk", "option": {"assistance_id": ai.json()["id"]}},
                        {"type": "variable_set", "option": {"key": "after_ai", "value": "yes"}},
                        {"type": "hangup"}]})
        assert r.status_code == 200, r.text
        calls: list[dict[str, Any]] = r.json()["calls"]
        return calls[0]

    leg, call = await answer_far_half(ari, dial)
    try:
        await pause_resume_terminate(live, asterisk, leg, call, question)
    finally:
        with contextlib.suppress(AriError):  # usually gone already: the flow hung up
            await leg.hangup()


async def pause_resume_terminate(live: AILive, asterisk: Asterisk, leg: ChannelHandle, call: dict[str, Any],
                                 question: str) -> None:
    h = live.tenant.headers
    listed: list[dict[str, Any]] = []

    async def progressing() -> bool:
        listed[:] = (await live.get("/v1.0/aicalls", status="progressing"))["result"]
        return bool(listed)

    await until(progressing, 60, "a progressing AI call listed")
    assert len(listed) == 1
    aicall = listed[0]
    aid = aicall["id"]
    assert aicall["reference_type"] == "call" and aicall["reference_id"] == call["id"]
    assert aicall["customer_id"] == live.tenant.id
    assert [a["id"] for a in (await live.get("/v1.0/aicalls"))["result"]] == [aid]
    assert (await live.get("/v1.0/aicalls", who=live.other))["result"] == []
    service = live.engine.services.ai
    assert service is not None
    conversation = service.live[aid].conversation
    assert conversation is not None

    async def assistant_said(text: str) -> bool:
        return text in await live.said(aid, "assistant")

    # a turn before the pause: the caller's question is heard and answered (so silence later means something)
    await until(lambda: assistant_said(GREETING), 60, "greeting stored")
    await eventually(lambda: not conversation.speaking, timeout=60, what="greeting played")
    asked = time.monotonic()
    await speak(leg, question)
    await until(lambda: assistant_said(REPLIES[0]), 120, "first answer")
    turn_s = time.monotonic() - asked
    await eventually(lambda: not conversation.speaking, timeout=60, what="first answer played")
    assert len(live.llm.requests) == 1

    # pause: status pausing, the call hears music on hold, the caller's words get no answer
    paused = await live.http.post(f"/v1.0/aicalls/{aid}/pause", headers=h)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "pausing"
    assert (await live.get(f"/v1.0/aicalls/{aid}"))["status"] == "pausing"
    await until(lambda: on_hold(asterisk, aid), 15, "music on hold in the AI call's bridge")
    snoop = await leg.snoop(spy="in")  # what the caller hears while paused
    heard = f"paused-{aid}"
    await snoop.record(heard, fmt="wav")
    again = await live.http.post(f"/v1.0/aicalls/{aid}/pause", headers=h)
    assert again.status_code == 409, again.text  # already paused
    before = await live.messages(aid)
    await speak(leg, question)
    await asyncio.sleep(min(30.0, max(5.0, 2 * turn_s)))  # longer than the answered turn took (no assertion on it)
    assert await live.messages(aid) == before and len(live.llm.requests) == 1
    assert not conversation.speaking
    async with snoop.events() as events:
        await snoop.client.rest.post(f"/recordings/live/{heard}/stop")
        await events.wait_for(RecordingFinished, timeout=15)
    await snoop.hangup()
    recording = asterisk.instance.directory / "spool" / "recording" / f"{heard}.wav"
    assert speech_seconds(recording) > 3.0  # the agent is silent: what the caller hears is the music

    # resume: progressing again, the music stops, the next question is answered
    resumed = await live.http.post(f"/v1.0/aicalls/{aid}/resume", headers=h)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "progressing"
    async def music_stopped() -> bool:
        return not await on_hold(asterisk, aid)

    await until(music_stopped, 15, "music on hold stopped")
    assert (await live.http.post(f"/v1.0/aicalls/{aid}/resume", headers=h)).status_code == 409  # not paused
    await speak(leg, question)
    await until(lambda: assistant_said(REPLIES[1]), 120, "answer after resume")
    assert len(live.llm.requests) == 2  # the question asked during the pause never reached the model

    # another customer's key: every control and the transcript are 404, as for an unknown AI call
    other = live.other.headers
    for method, path in (("GET", ""), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/terminate"),
                         ("DELETE", "")):
        r = await live.http.request(method, f"/v1.0/aicalls/{aid}{path}", headers=other)
        assert r.status_code == 404, (method, path, r.text)
    theirs = await live.http.get("/v1.0/aimessages", params={"aicall_id": aid}, headers=other)
    assert theirs.status_code == 404, theirs.text
    assert (await live.get(f"/v1.0/aicalls/{aid}"))["status"] == "progressing"  # untouched by them

    # terminate: the AI call ends as manually canceled; ai_talk ends softly, so the flow goes on and hangs up
    ended = await live.http.post(f"/v1.0/aicalls/{aid}/terminate", headers=h)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "terminated" and ended.json()["ended_reason"] == "manually-canceled"
    assert aid not in service.live

    async def hung_up() -> bool:
        return bool((await live.get(f"/v1.0/calls/{call['id']}"))["status"] == "hangup")

    await until(hung_up, 30, "call hung up by the flow")
    done = await live.get(f"/v1.0/calls/{call['id']}")
    assert done["hangup_by"] == "local" and done["hangup_reason"] == "normal"
    flow = await live.get(f"/v1.0/activeflows/{done['activeflow_id']}")
    assert [a["type"] for a in flow["executed_actions"]][-2:] == ["ai_talk", "variable_set"]
    assert flow["current_action"]["type"] == "hangup"
    again_ended = (await live.http.post(f"/v1.0/aicalls/{aid}/terminate", headers=h)).json()  # as it is
    assert {k: again_ended[k] for k in ("status", "ended_reason", "tm_end")} == {
        k: ended.json()[k] for k in ("status", "ended_reason", "tm_end")}
    assert (await live.http.post(f"/v1.0/aicalls/{aid}/pause", headers=h)).status_code == 409

    # the transcript: the greeting, two questions and their answers (nothing from the pause)
    spoken = [(m["role"], m["content"]) for m in await live.messages(aid) if m["role"] != "system"]
    assert [role for role, _ in spoken] == ["assistant", "user", "assistant", "user", "assistant"], spoken
    assert [text for role, text in spoken if role == "assistant"] == [GREETING, REPLIES[0], REPLIES[1]]
    assert all(text.strip() for _, text in spoken)
    assert all(m["aicall_id"] == aid for m in await live.messages(aid))

"""ai_talk on real calls through the private Asterisk: real RTP, VAD and TTS; scripted recogniser and model."""
from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from flowengine.ai import talk  # noqa: F401  (registers ai_talk)
from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIConfig
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.client import AriClient
from flowengine.flow.context import ServicesLink
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.providers.llm.base import LLMProvider
from flowengine.providers.stt.base import STTProvider
from flowengine.providers.tts import TTS_PROVIDERS
from flowengine.providers.tts.base import TTSProvider
from flowengine.store import AI, AIcall
from tests.ai.fakes import ScriptedSTT, ScriptedToolLLM
from tests.conftest import Asterisk
from tests.flow.calls import Harness, flow_harness, place_call, speech_seconds
from tests.support import eventually


class Pool(ProviderPool):
    def __init__(self, stt: STTProvider, llm: LLMProvider) -> None:
        super().__init__()
        self._fixed_stt, self._fixed_llm = stt, llm

    def stt(self, stt_type: str) -> STTProvider:
        return self._fixed_stt

    def llm(self, engine_model: str, api_key: str, parameter: dict[str, Any]) -> LLMProvider:
        return self._fixed_llm

    def tts(self, tts_type: str) -> TTSProvider:
        return TTS_PROVIDERS.create("espeak")


class AIs:
    def __init__(self, **parameter: Any) -> None:
        self.config = AIConfig(AI(id="8a0e5c1e-0000-4000-8000-000000000001", customer_id=ENGINE_CUSTOMER_ID,
                                  name="receptionist", engine_model="scripted.test", init_prompt="Be nice.",
                                  parameter=parameter, tool_names=["stop_service", "set_variables"]))

    def get(self, ai_id: str) -> AIConfig | None:
        return self.config if ai_id in ("receptionist", self.config.ai.id) else None


def speech_file(folder: Path, name: str, text: str) -> str:
    """A prompt the caller plays: 8 kHz WAV; returns the `sound:` media of it (no extension)."""
    raw, out = folder / f"{name}-raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True)
    return f"sound:{folder / name}"


@asynccontextmanager
async def ai_harness(asterisk: Asterisk, ari: AriClient, tmp: Path, llm: LLMProvider, stt: STTProvider,
                     **parameter: Any) -> AsyncIterator[tuple[Harness, AICallService, list[str]]]:
    link = ServicesLink()
    service = AICallService(AIs(**parameter), Pool(stt, llm), ari, MediaSettings(), flow_services=link)
    statuses: list[str] = []

    async def observe(event: str, record: AIcall) -> None:
        statuses.append(event)

    service.observers.append(observe)
    async with flow_harness(asterisk, ari, tmp, ai=service, link=link) as h:
        yield h, service, statuses


FLOW = {"id": "main", "actions": [
    {"type": "answer"},
    {"id": "agent", "type": "ai_talk", "option": {"assistance_id": "receptionist"}},
    {"id": "after", "type": "variable_set", "option": {"key": "after", "value": "yes"}},
]}


async def test_ai_talk_greets_listens_answers_and_soft_ends(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    llm = ScriptedToolLLM([("Goodbye, see you soon.", ["stop_service"])])
    stt = ScriptedSTT(["Goodbye."])
    prompt = speech_file(tmp_path, "bye", "Goodbye.")
    async with ai_harness(asterisk, ari, tmp_path, llm, stt,
                          first_message="Hello, this is the dental office. How can I help?") as (h, service, statuses):
        h.flows.add(FLOW)
        caller = await place_call(ari, record=True)
        await eventually(lambda: "aicall_status_progressing" in statuses, what="AI call progressing")
        live = next(iter(service.live.values()))
        await eventually(lambda: any(m.role == "assistant" for m in live.conversation.messages),  # type: ignore[union-attr]
                         timeout=15, what="greeting spoken")
        playback = await caller.leg.play(prompt)
        await playback.wait(15)
        af = await h.wait_ended(timeout=30)
        assert af.ended_reason == "finished" and af.variables["after"] == "yes"  # soft end: the flow went on
        assert af.variables["voipbin.aicall.id"] == live.record.id
        assert [s for s in statuses if s.startswith("aicall_status")] == ["aicall_status_initializing", "aicall_status_progressing",
                            "aicall_status_terminating", "aicall_status_terminated"]
        roles = [(m.role, m.content) for m in service.messages[live.record.id] if m.role != "system"]
        assert roles[0] == ("assistant", "Hello, this is the dental office. How can I help?")
        assert ("user", "Goodbye.") in roles and ("assistant", "Goodbye, see you soon.") in roles
        assert live.record.ended_reason == "assistant-ended-call"
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")
        assert await ari.bridges.list() == []
        heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
        await eventually(heard.exists, what="caller recording")
        assert speech_seconds(heard) > 2.0  # the greeting and the goodbye reached the caller


async def test_caller_hangs_up_mid_turn_and_everything_is_released(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    long = "Let me tell you about all of our opening hours " * 8
    async with ai_harness(asterisk, ari, tmp_path, ScriptedToolLLM([]), ScriptedSTT([]),
                          first_message=long) as (h, service, statuses):
        h.flows.add(FLOW)
        tasks_before = len(asyncio.all_tasks())
        caller = await place_call(ari)
        await eventually(lambda: "aicall_status_progressing" in statuses, what="AI call progressing")
        await asyncio.sleep(1.0)  # the agent is mid-sentence
        await caller.hangup()
        af = await h.wait_ended(timeout=20)
        assert af.ended_reason.startswith("hangup") or af.ended_reason.startswith("ai_talk ended the flow")
        await eventually(lambda: "aicall_status_terminated" in statuses, what="AI call terminated")
        await eventually(lambda: not service.live and asterisk.channels() == [], what="released")
        assert await ari.bridges.list() == []
        await eventually(lambda: len(asyncio.all_tasks()) <= tasks_before, what="no tasks left")


async def test_pause_and_resume_mid_call(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with ai_harness(asterisk, ari, tmp_path, ScriptedToolLLM([]), ScriptedSTT([]),
                          first_message="Hello.") as (h, service, statuses):
        h.flows.add(FLOW)
        caller = await place_call(ari)
        await eventually(lambda: "aicall_status_progressing" in statuses, what="AI call progressing")
        aicall_id = next(iter(service.live))
        await asyncio.sleep(0.5)
        await service.pause(aicall_id)
        assert service.live[aicall_id].record.status == "pausing"
        await asyncio.sleep(0.5)
        await service.resume(aicall_id, "Thanks for waiting.")
        assert service.live[aicall_id].record.status == "progressing"
        assert [s for s in statuses if s.startswith("aicall_status")][-2:] == [
            "aicall_status_resuming", "aicall_status_progressing"]
        await caller.hangup()
        await h.wait_ended(timeout=20)
        await eventually(lambda: not service.live, what="AI call over")
        try:
            await service.pause(aicall_id)
        except Exception as exc:  # noqa: BLE001 - the message is what matters
            assert "is not live" in str(exc)
        else:
            raise AssertionError("pausing an ended AI call must be refused")


async def test_openai_compatible_model_with_tool_calls_on_a_real_call(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    """The LLM path end to end: the real `openai` client against a local OpenAI-compatible server."""
    from flowengine.providers.llm import create_llm
    from tests.fakes.openai_server import FakeOpenAIServer, Reply

    async with FakeOpenAIServer() as server:
        server.script(
            Reply(text="Hello, how can I help?"),
            Reply(text="Booked for Tuesday. Goodbye!",
                  tool_calls=(("set_variables", '{"variables": {"day": "Tuesday"}}'), ("stop_service", "{}"))),
        )
        llm = create_llm("openai.gpt-test", "sk-test-key-123", {}, base_url=server.base_url)
        prompt = speech_file(tmp_path, "tuesday", "Tuesday please.")
        async with ai_harness(asterisk, ari, tmp_path, llm, ScriptedSTT(["Tuesday please."]),
                              speak_first=True) as (h, _service, _statuses):
            h.flows.add(FLOW)
            caller = await place_call(ari)
            await eventually(lambda: len(server.requests) >= 1, timeout=15, what="opening requested")
            await asyncio.sleep(2.5)  # the opening is spoken
            playback = await caller.leg.play(prompt)
            await playback.wait(15)
            af = await h.wait_ended(timeout=30)
        assert af.variables["day"] == "Tuesday" and af.variables["after"] == "yes"
        second = server.requests[1]
        assert second.headers.get("Authorization") == "Bearer sk-test-key-123"
        assert [m["role"] for m in second.body["messages"]][-2:] == ["assistant", "user"]
        assert {t["function"]["name"] for t in second.body["tools"]} == {"stop_service", "set_variables"}
        assert second.body["stream"] is True


async def test_barge_in_stops_a_long_reply_on_the_callers_line(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    long = ("We are open Monday to Friday from eight in the morning until six in the evening, "
            "and on Saturday from nine until one. ") * 4
    interruption = speech_file(tmp_path, "stop", "Sorry, stop, I have to go now, goodbye.")
    llm = ScriptedToolLLM([("Okay.", ["stop_service"])])
    async with ai_harness(asterisk, ari, tmp_path, llm, ScriptedSTT(["Sorry, stop, I have to go now, goodbye."]),
                          first_message=long) as (h, service, statuses):
        h.flows.add(FLOW)
        caller = await place_call(ari, record=True)
        await eventually(lambda: "aicall_status_progressing" in statuses, what="AI call progressing")
        live = next(iter(service.live.values()))
        await asyncio.sleep(2.0)  # the agent is well into its 20-second answer
        playback = await caller.leg.play(interruption)
        await playback.wait(15)
        af = await h.wait_ended(timeout=30)
        assert af.variables["after"] == "yes"
        conversation = live.conversation
        assert conversation is not None and conversation.interruptions == 1
        opening = next(m for m in conversation.messages if m.role == "assistant")
        assert opening.content.endswith("...") and len(opening.content) < len(long) / 2  # cut where heard
    heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
    await eventually(lambda: asterisk.channels() == [], what="call over, recording closed")
    await eventually(heard.exists, what="caller recording")
    # On the caller's line the agent's long answer (~20 s) stopped early: far less speech was heard.
    assert speech_seconds(heard) < 12.0

"""A whole AI conversation on a real call through the cloud providers' local fakes: Deepgram recognises the caller
as they speak, ElevenLabs speaks, Anthropic answers (a tool call included); a barge-in closes the voice's socket."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from flowengine.ai import talk  # noqa: F401  (registers ai_talk)
from flowengine.ai.aicall import AICallService, LiveAICall
from flowengine.ai.definitions import AIConfig
from flowengine.ai.endreasons import ASSISTANT_ENDED, pipeline_error
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.client import AriClient
from flowengine.bench.fakes.anthropic_llm import FakeAnthropicLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.bench.fakes.deepgram_stt import FakeDeepgramSTT
from flowengine.bench.fakes.elevenlabs_tts import FakeElevenLabsTTS
from flowengine.bench.fakes.server import Faults
from flowengine.bench.fakes.sttsocket import Session
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.flow.context import ServicesLink
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.providers import credentials
from flowengine.providers.credentials import Access
from flowengine.providers.llm.endpoints import ANTHROPIC, base_url_env
from flowengine.store import AI
from tests.ai.test_ai_talk import FLOW, speech_file
from tests.conftest import Asterisk
from tests.flow.calls import Harness, flow_harness, place_call, speech_seconds, tone_seconds
from tests.support import eventually

pytestmark = pytest.mark.asterisk

MODEL = "anthropic.claude-haiku-4-5"
GREETING = "Hello, this is the dental office."
BOOKING = "I would like to come on Tuesday."
# one sentence (one ElevenLabs socket) of ~10 s, streamed in real time: still open when the caller cuts in
LONG = ("We are open on Monday and Tuesday and Wednesday and Thursday and Friday from eight in the morning "
        "until six in the evening and on Saturday from nine until one")
INTERRUPTION = "Sorry stop I have to go now goodbye."
VOICE_HZ = 440.0  # the fake voices speak a tone of this pitch: the caller hearing it heard ElevenLabs


class TimedDeepgram(FakeDeepgramSTT):
    """Notes when each audio frame and each Finalize arrived."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audio_at: list[float] = []
        self.finalized_at: list[float] = []

    async def _audio(self, session: Session, data: bytes) -> None:
        self.audio_at.append(asyncio.get_running_loop().time())
        await super()._audio(session, data)

    async def command(self, session: Session, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "Finalize":
            self.finalized_at.append(asyncio.get_running_loop().time())
        await super().command(session, message)


@dataclass
class Fakes:
    stt: TimedDeepgram
    tts: FakeElevenLabsTTS
    llm: FakeAnthropicLLM


class CloudAIs:
    def __init__(self, key: str) -> None:
        self.config = AIConfig(AI(id="8a0e5c1e-0000-4000-8000-0000000000c1", customer_id=ENGINE_CUSTOMER_ID,
                                  name="receptionist", engine_model=MODEL, init_prompt="Be nice.",
                                  stt_type="deepgram", tts_type="elevenlabs", stt_language="en-US",
                                  parameter={"first_message": GREETING},
                                  tool_names=["stop_service", "set_variables"]),
                               engine_key=SecretStr(key))

    def get(self, ai_id: str) -> AIConfig | None:
        return self.config if ai_id in ("receptionist", self.config.ai.id) else None


@pytest.fixture
def forget_access() -> Iterator[None]:
    yield
    credentials.configure({})


@asynccontextmanager
async def cloud_fakes(monkeypatch: pytest.MonkeyPatch, *, script: list[str], voice_key: str = "test-key",
                      voice_faults: Faults | None = None) -> AsyncIterator[Fakes]:
    """The three fakes, and the engine pointed at them: speech through `speech.providers`, the model through
    FLOWENGINE_LLM_ANTHROPIC_BASE_URL (its key is the AI's engine_key)."""
    async with (TimedDeepgram(script=script) as stt, FakeElevenLabsTTS(faults=voice_faults) as tts,
                FakeAnthropicLLM() as llm):
        credentials.configure({"deepgram": Access(api_key=stt.api_key, base_url=stt.base_url),
                               "elevenlabs": Access(api_key=voice_key, base_url=tts.base_url)})
        monkeypatch.setenv(base_url_env(ANTHROPIC.provider), llm.base_url)
        yield Fakes(stt, tts, llm)


@asynccontextmanager
async def cloud_harness(asterisk: Asterisk, ari: AriClient, tmp: Path,
                        llm: FakeAnthropicLLM) -> AsyncIterator[tuple[Harness, AICallService]]:
    link = ServicesLink()
    service = AICallService(CloudAIs(llm.api_key), ProviderPool(), ari, MediaSettings(), flow_services=link)
    try:
        async with flow_harness(asterisk, ari, tmp, ai=service, link=link) as h:
            h.flows.add(FLOW)
            yield h, service
    finally:
        await service.pool.aclose()


def only_live(service: AICallService) -> LiveAICall:
    return next(iter(service.live.values()))


def saying(tts: FakeElevenLabsTTS, text: str) -> VoiceRecord | None:
    """The ElevenLabs socket that was asked to say `text`."""
    for entry in tts.requests:
        if any(isinstance(m, dict) and m.get("text", "").strip() == text for m in entry.messages):
            assert isinstance(entry, VoiceRecord)
            return entry
    return None


async def test_a_conversation_through_deepgram_elevenlabs_and_anthropic_with_a_barge_in(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_access: None
) -> None:
    booking = speech_file(tmp_path, "booking", BOOKING)
    interruption = speech_file(tmp_path, "interruption", INTERRUPTION)
    realtime = Faults(chunk_delay_s=0.25)  # a 0.25 s chunk every 0.25 s: a long sentence's socket stays open
    async with cloud_fakes(monkeypatch, script=[BOOKING, INTERRUPTION], voice_faults=realtime) as fakes:
        fakes.llm.script(
            Reply(text="Tuesday works.", tool_calls=(("set_variables", '{"variables": {"day": "Tuesday"}, "run_llm": true}'),)),
            Reply(text=LONG + "."),  # the model answers the tool's result (run_llm)
            Reply(text="Okay, goodbye.", tool_calls=(("stop_service", "{}"),)),
        )
        async with cloud_harness(asterisk, ari, tmp_path, fakes.llm) as (h, service):
            caller = await place_call(ari, record=True)
            await eventually(lambda: bool(service.live), what="AI call started")
            live = only_live(service)

            def greeted() -> bool:
                greeting = saying(fakes.tts, GREETING)
                return greeting is not None and greeting.finished
            await eventually(greeted, timeout=15, what="greeting spoken")
            await eventually(lambda: live.conversation is not None and not live.conversation.speaking,
                             timeout=15, what="greeting played out")
            playback = await caller.leg.play(booking)
            await playback.wait(15)

            def long_reply_heard() -> bool:
                entry = saying(fakes.tts, LONG + ".")
                return entry is not None and entry.chunks_sent >= 6  # 1.5 s into its ~10 s
            await eventually(long_reply_heard, timeout=20, what="the long reply under way")
            playback = await caller.leg.play(interruption)
            await playback.wait(15)
            af = await h.wait_ended(timeout=30)
            conversation = live.conversation
        assert af.variables["after"] == "yes" and af.variables["day"] == "Tuesday"
        assert live.record.ended_reason == ASSISTANT_ENDED

        # the caller's speech reached Deepgram frame by frame while they spoke, before each turn's Finalize
        (socket,) = [r for r in fakes.stt.requests if r.path == "/v1/listen"]
        finalizes = [i for i, m in enumerate(socket.messages) if isinstance(m, dict) and m.get("type") == "Finalize"]
        assert finalizes, "no turn was finalized"
        frames_before = sum(isinstance(m, bytes) for m in socket.messages[:finalizes[0]])
        assert frames_before >= 50  # 1 s of 20 ms frames: the utterance itself
        streamed = [t for t in fakes.stt.audio_at if t < fakes.stt.finalized_at[0]]
        assert streamed[-1] - streamed[0] >= 1.0  # ... arriving as it was spoken, not in a burst at its end
        assert not fakes.stt.script  # both lines were recognised

        # the barge-in: the long reply's socket was closed by the engine, and nothing more was sent on it
        long_reply = saying(fakes.tts, LONG + ".")
        assert long_reply is not None and long_reply.closed_by_client and not long_reply.finished
        assert long_reply.chunks_sent < long_reply.chunks_total and long_reply.sent_after_close == 0
        assert conversation is not None and conversation.interruptions == 1

        # the transcript as stored
        said = [(m.role, m.content) for m in service.messages[live.record.id] if m.role in ("user", "assistant")]
        assert said[0] == ("assistant", GREETING)
        assert ("user", BOOKING) in said and ("assistant", "Tuesday works.") in said
        assert ("user", INTERRUPTION) in said and said[-1] == ("assistant", "Okay, goodbye.")
        cut = next(text for role, text in said if role == "assistant" and text.startswith("We are open"))
        assert cut.endswith("...") and len(cut) < len(LONG)

        # the model got the tool's result, and its key as the AI's engine_key
        assert len(fakes.llm.requests) == 3  # the booking, the tool result, the interruption
        second = fakes.llm.requests[1]
        assert fakes.llm.api_key in (second.headers.get("x-api-key"), second.headers.get("Authorization", "")[7:])
        assert any(block.get("type") == "tool_result" for m in second.body["messages"]
                   for block in (m["content"] if isinstance(m["content"], list) else ()))

        # usage and costs name the three vendors, with the tokens Anthropic reported
        usage: dict[str, Any] = live.record.usage or {}
        assert (usage["stt"]["provider"], usage["tts"]["provider"], usage["llm"]["provider"]) == (
            "deepgram", "elevenlabs", "anthropic")
        assert usage["llm"]["prompt_tokens"] == 3 * 11 and not usage["llm"]["estimated"]
        assert usage["stt"]["seconds"] > 1.0 and usage["tts"]["characters"] >= len(GREETING + LONG)
        assert live.record.costs

    await eventually(lambda: asterisk.channels() == [], what="call over, recording closed")
    heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
    await eventually(heard.exists, what="caller recording")
    assert tone_seconds(heard, VOICE_HZ) > 2.0  # the greeting and the replies reached the caller


async def test_a_refused_voice_key_ends_the_call_with_the_offline_voices_apology(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_access: None
) -> None:
    async with cloud_fakes(monkeypatch, script=[], voice_key="not-the-key") as fakes:
        async with cloud_harness(asterisk, ari, tmp_path, fakes.llm) as (h, service):
            caller = await place_call(ari, record=True)
            await eventually(lambda: bool(service.live), what="AI call started")
            live = only_live(service)
            af = await h.wait_ended(timeout=30)
        assert af.variables["after"] == "yes"  # ai_talk ends softly: the flow goes on
        assert live.record.ended_reason == pipeline_error("elevenlabs", "voice")
        assert live.record.ended_reason == "pipeline-error-eleven-labs-voice-failed"
        assert len(fakes.tts.requests) == 1  # a refused key is not retried
        assert fakes.tts.requests[0].headers.get("xi-api-key") == "not-the-key"
    await eventually(lambda: asterisk.channels() == [], what="call over, recording closed")
    heard = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
    await eventually(heard.exists, what="caller recording")
    spoken = speech_seconds(heard)
    assert spoken > 1.5  # the apology, in the offline voice ...
    assert tone_seconds(heard, VOICE_HZ) < 0.2 * spoken  # ... not ElevenLabs' tone (a voice has a little of it)

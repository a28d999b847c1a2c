"""The conversation with a streaming recogniser (frames sent as they arrive, the provider's end of speech
combined with the VAD's), and the fallbacks that take over a failed recogniser or voice."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator

import numpy as np

from flowengine.ai.voice.conversation import Conversation, ConversationSettings
from flowengine.media.frames import AudioFrame, MediaInbox
from flowengine.media.vad import SpeechEnded, SpeechResumed, SpeechStarted, SpeechStopping
from flowengine.providers.llm.base import ChatMessage
from flowengine.providers.stt.base import STTError, STTProvider, STTStream, Transcript
from flowengine.providers.tts.base import TTSError, TTSProvider
from tests.ai.fakes import FakeOutput, ScriptedLLM, ScriptedSTT, ToneTTS
from tests.support import eventually


class ScriptedStream(STTStream):
    def __init__(self, owner: StreamingSTT) -> None:
        super().__init__()
        self.owner = owner
        self.turn: list[int] = []  # stream times of this turn's frames (by their first sample)

    async def send(self, pcm: np.ndarray) -> None:
        if self.owner.fail_send:
            raise STTError("socket gone")
        self.owner.sent_frames += 1
        self.turn.append(int(pcm[0]))

    async def finalize(self) -> Transcript:
        self.owner.finalized.append(list(self.turn))
        self.turn.clear()
        if self.owner.fail_finalize:
            raise STTError("deepgram closed the socket twice")
        return Transcript(self.owner.texts.popleft() if self.owner.texts else "")

    async def aclose(self) -> None:
        self.owner.closed += 1


class StreamingSTT(STTProvider):
    name = "deepgram"
    streaming = True

    def __init__(self, texts: list[str]) -> None:
        self.texts = deque(texts)
        self.finalized: list[list[int]] = []
        self.sent_frames = 0
        self.closed = 0
        self.fail_send = self.fail_finalize = False
        self.stream: ScriptedStream | None = None
        self.opened_with: tuple[str, tuple[str, ...]] = ("", ())

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        raise AssertionError("a streaming recogniser is fed frames, not utterances")

    async def open_stream(self, *, language: str = "", keywords: tuple[str, ...] = ()) -> STTStream:
        self.opened_with = (language, keywords)
        self.stream = ScriptedStream(self)
        return self.stream


class Rig:
    def __init__(self, stt: STTProvider, llm: ScriptedLLM, tts: TTSProvider | None = None, **extra: object) -> None:
        self.inbox = MediaInbox()
        self.out = FakeOutput()
        self.conv = Conversation(inbox=self.inbox, output=self.out, stt=stt, llm=llm, tts=tts or ToneTTS(),
                                 messages=[ChatMessage("system", "Be brief.")], settings=ConversationSettings(smart_turn=False),
                                 **extra)  # type: ignore[arg-type]
        self.t = 0
        self.tasks = (asyncio.ensure_future(self.conv.run()), asyncio.ensure_future(self.out.drain()))

    def frame(self) -> None:
        # each frame's first sample is its stream time, so the test can tell which frames were sent
        pcm = np.zeros(320, dtype=np.int16)
        pcm[0] = self.t
        self.inbox.put(AudioFrame(pcm, self.t))
        self.t += 20

    async def silence(self, ms: int) -> None:
        for _ in range(ms // 20):
            self.frame()
            await asyncio.sleep(0)

    async def speak(self, ms: int) -> tuple[int, int]:
        start = self.t
        for _ in range(ms // 20):
            self.frame()
            if self.t - start == 200:
                self.inbox.put(SpeechStarted(self.t, start))
            await asyncio.sleep(0)
        end = self.t
        self.inbox.put(SpeechStopping(self.t, end))
        return start, end

    async def end(self, start: int, end: int, gap: int = 200) -> None:
        await self.silence(gap)
        self.inbox.put(SpeechEnded(self.t, start, end))
        await asyncio.sleep(0.01)

    async def stop(self) -> str:
        self.conv.end("test over")
        reason = await asyncio.wait_for(self.tasks[0], 5)
        self.tasks[1].cancel()
        await asyncio.gather(self.tasks[1], return_exceptions=True)
        return reason


def said(conv: Conversation, role: str) -> list[str]:
    return [m.content for m in conv.messages if m.role == role]


async def test_frames_go_to_the_recogniser_as_they_arrive_and_the_turn_ends_with_its_final_text() -> None:
    stt = StreamingSTT(["I need a plumber"])
    rig = Rig(stt, ScriptedLLM(["When?"]))
    await rig.silence(1000)
    assert stt.sent_frames == 0  # nothing is sent (nor billed) while nobody speaks
    start, end = await rig.speak(800)
    sent_before_end = stt.sent_frames
    assert sent_before_end >= 40 - 1  # fed during the utterance, not after it
    await rig.end(start, end)
    await eventually(lambda: said(rig.conv, "assistant") == ["When?"], 5)
    assert said(rig.conv, "user") == ["I need a plumber"]
    turn = stt.finalized[0]
    assert turn[0] == start - 300  # the pre-roll went first
    assert turn == list(range(start - 300, end + 200, 20))  # then every frame, in order, once
    await rig.silence(400)
    assert len(stt.finalized) == 1 and stt.sent_frames == len(turn)
    assert await rig.stop() == "test over"
    assert stt.closed == 1  # the session is closed with the conversation


async def test_the_recognisers_end_of_speech_ends_the_turn_before_the_vad() -> None:
    stt = StreamingSTT(["What time do you open"])
    rig = Rig(stt, ScriptedLLM(["At nine."]))
    start, end = await rig.speak(800)
    await rig.silence(100)  # the VAD waits out its stop time; the provider already heard the end
    assert stt.stream is not None
    stt.stream._end_of_speech("What time do you open")
    await eventually(lambda: said(rig.conv, "user") == ["What time do you open"], 5)
    assert rig.conv.provider_turn_ends == 1
    await rig.end(start, end, gap=100)  # the VAD's own end comes later: ignored, no second turn
    await eventually(lambda: said(rig.conv, "assistant") == ["At nine."], 5)
    await rig.stop()
    assert said(rig.conv, "user") == ["What time do you open"] and len(stt.finalized) == 1
    assert [t.ended_by for t in rig.conv.turns if t.index] == ["recogniser"]  # the bench's turn_ends count this


async def test_the_recognisers_end_ignored_while_the_caller_still_speaks() -> None:
    stt = StreamingSTT(["one two three"])
    rig = Rig(stt, ScriptedLLM(["Okay."]))
    start = rig.t
    for _ in range(20):
        rig.frame()
        if rig.t - start == 200:
            rig.inbox.put(SpeechStarted(rig.t, start))
        await asyncio.sleep(0)
    assert stt.stream is not None
    stt.stream._end_of_speech("one two")  # no SpeechStopping yet: the VAD still hears speech
    await rig.silence(100)
    assert said(rig.conv, "user") == [] and rig.conv.provider_turn_ends == 0
    await rig.stop()


async def test_a_false_cut_by_the_recogniser_starts_a_new_utterance() -> None:
    stt = StreamingSTT(["My number is", "five five five one two"])
    rig = Rig(stt, ScriptedLLM(["Go on.", "Thanks."]))
    await rig.speak(600)
    await rig.silence(60)
    assert stt.stream is not None
    stt.stream._end_of_speech("My number is")
    await eventually(lambda: rig.conv.provider_turn_ends == 1, 5)
    rig.inbox.put(SpeechResumed(rig.t))  # the caller goes on within the VAD's stop time
    resumed = rig.t
    for _ in range(30):
        rig.frame()
        await asyncio.sleep(0)
    rig.inbox.put(SpeechStopping(rig.t, rig.t))
    await rig.end(resumed, rig.t)
    await eventually(lambda: said(rig.conv, "user") == ["My number is", "five five five one two"], 5)
    assert rig.conv.false_cuts == 1
    await rig.stop()
    assert [t.ended_by for t in rig.conv.turns if t.index] == ["recogniser", "vad"]


async def test_a_recogniser_that_fails_for_good_hands_the_call_to_the_fallback() -> None:
    stt = StreamingSTT([])
    stt.fail_finalize = True
    fallback = ScriptedSTT(["Cancel my order"])
    rig = Rig(stt, ScriptedLLM(["Done."]), fallback_stt=fallback)
    start, end = await rig.speak(800)
    await rig.end(start, end)
    await eventually(lambda: said(rig.conv, "assistant") == ["Done."], 5)
    assert said(rig.conv, "user") == ["Cancel my order"]  # the failed turn itself, heard by the fallback
    assert rig.conv.ears.fell_back and fallback.calls == 1 and stt.closed == 1
    fallback.consume()
    fallback.texts.append("Thank you")
    start, end = await rig.speak(600)
    await rig.end(start, end)
    await eventually(lambda: said(rig.conv, "user") == ["Cancel my order", "Thank you"], 5)
    assert len(stt.finalized) == 1  # the broken stream is not asked again
    assert await rig.stop() == "test over"


async def test_a_recogniser_that_breaks_mid_utterance_without_a_fallback_ends_the_call_with_an_apology() -> None:
    stt = StreamingSTT([])
    rig = Rig(stt, ScriptedLLM(["never"]))
    start = rig.t
    for _ in range(10):
        rig.frame()
        if rig.t - start == 100:
            rig.inbox.put(SpeechStarted(rig.t, start))
        await asyncio.sleep(0)
    stt.fail_send = True
    _, end = await rig.speak(400)
    await rig.end(start, end)
    reason = await asyncio.wait_for(rig.tasks[0], 5)
    rig.tasks[1].cancel()
    assert reason == "pipeline-error-deepgram-transcriber-failed"
    assert said(rig.conv, "assistant") == [ConversationSettings().apology]
    assert rig.out.sent_ms > 0


class BrokenVoice(TTSProvider):
    name = "elevenlabs"
    sample_rate = 8000

    def __init__(self, after_chunks: int = 0) -> None:
        self.after_chunks = after_chunks
        self.calls = 0

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        self.calls += 1
        for _ in range(self.after_chunks):
            yield np.ones(160, dtype=np.int16)
        raise TTSError("elevenlabs refused the API key (HTTP 401)")


class RecordingVoice(ToneTTS):
    name = "piper"

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        self.texts.append((text, voice_id))
        async for chunk in super().stream(text):
            yield chunk


async def test_a_failed_voice_hands_the_call_to_the_fallback_voice() -> None:
    primary, fallback = BrokenVoice(), RecordingVoice()
    rig = Rig(ScriptedSTT(["hello"]), ScriptedLLM(["Hi there. How can I help?"]), tts=primary,
              fallback_tts=fallback)
    rig.conv.settings.voice_id = "EXAVITQu4vr4xnSDxMaL"
    start, end = await rig.speak(600)
    await rig.end(start, end)
    await eventually(lambda: len(said(rig.conv, "assistant")) == 1, 5)
    assert fallback.texts == [("Hi there.", ""), ("How can I help?", "")]  # its own default voice
    assert primary.calls == 1 and rig.conv.tts_fell_back
    assert said(rig.conv, "assistant") == ["Hi there. How can I help?"]
    assert await rig.stop() == "test over"


async def test_a_failed_voice_without_fallback_apologises_in_the_offline_voice() -> None:
    offline = RecordingVoice()
    rig = Rig(ScriptedSTT(["hello"]), ScriptedLLM(["Hi."]), tts=BrokenVoice(after_chunks=2), apology_tts=offline)
    start, end = await rig.speak(600)
    await rig.end(start, end)
    reason = await asyncio.wait_for(rig.tasks[0], 5)
    rig.tasks[1].cancel()
    assert reason == "pipeline-error-eleven-labs-voice-failed"
    assert offline.texts == [(ConversationSettings().apology, "")]
    assert rig.out.sent_ms > 0


class ClosingVoice(TTSProvider):
    """A voice that streams for long and records whether its stream was closed (the request aborted)."""

    name = "cartesia"
    sample_rate = 16000

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.chunks = 0  # of the first stream

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        first = not self.closed.is_set()
        try:
            for _ in range(500):
                self.chunks += first
                yield np.full(320, 1000, dtype=np.int16)
                await asyncio.sleep(0.01)
        finally:
            self.closed.set()


async def test_barge_in_closes_the_voices_stream_at_once() -> None:
    voice = ClosingVoice()
    rig = Rig(ScriptedSTT(["tell me everything", "stop please now"]), ScriptedLLM(["A very long answer."]),
              tts=voice)
    start, end = await rig.speak(600)
    await rig.end(start, end)
    await eventually(lambda: voice.chunks > 5, 5)
    start, end = await rig.speak(600)  # the caller talks over the agent
    await rig.end(start, end)
    await asyncio.wait_for(voice.closed.wait(), 1)
    chunks = voice.chunks
    await asyncio.sleep(0.1)
    assert voice.chunks == chunks and rig.conv.interruptions == 1
    await rig.stop()



async def test_the_session_opens_with_the_calls_language_and_keywords() -> None:
    stt = StreamingSTT([])
    rig = Rig(stt, ScriptedLLM([]))
    rig.conv.ears.language, rig.conv.ears.keywords = "en-GB", ("Brightsmile", "Dr Okafor")
    start, end = await rig.speak(400)
    await rig.end(start, end)
    await rig.stop()
    assert stt.opened_with == ("en-GB", ("Brightsmile", "Dr Okafor"))


def test_the_ais_stt_keywords_parameter() -> None:
    from flowengine.ai.aicall import stt_keywords

    assert stt_keywords({"stt_keywords": ["Brightsmile", " ", "Okafor "]}) == ("Brightsmile", "Okafor")
    assert stt_keywords({"stt_keywords": "Brightsmile"}) == ("Brightsmile",)
    assert stt_keywords({}) == () and stt_keywords({"stt_keywords": 3}) == ()

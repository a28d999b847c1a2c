"""OpenAI voices through the `openai` client's streamed speech answer (24 kHz PCM) against the local fake."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from flowengine.bench.fakes.openai_tts import FakeOpenAITTS
from flowengine.bench.fakes.server import Faults, speech_seconds
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.base import TTSError
from flowengine.providers.tts.openai import DEFAULT_MODEL, OpenAITTS
from tests.support import eventually

KEY = "sk-test-0123456789abcdef"
TEXT = "Your appointment is booked for Tuesday."
SAMPLES = int(speech_seconds(TEXT) * 24000)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAITTS]:
    async with FakeOpenAITTS(api_key=KEY) as server:
        yield server


@pytest.fixture
async def make(fake: FakeOpenAITTS, speech_access: Callable[..., None]) -> AsyncIterator[Callable[..., OpenAITTS]]:
    made: list[OpenAITTS] = []

    def create(**access: str) -> OpenAITTS:
        speech_access("openai", **{"api_key": KEY, "base_url": fake.base_url + "/v1", **access})
        provider = TTS.create("openai")
        assert isinstance(provider, OpenAITTS)
        made.append(provider)
        return provider

    yield create
    for provider in made:
        await provider.aclose()


async def test_speaks_in_chunks_that_arrive_before_the_whole_answer(
        fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.02)
    tts = make()
    stream = tts.stream(TEXT)
    first = await anext(stream)
    entry = fake.requests[0]
    assert entry.closed_at == 0 and len(entry.messages) < SAMPLES // 2400  # the fake is still pacing the rest
    rest = [c async for c in stream]
    audio = np.concatenate([first, *rest])
    assert tts.sample_rate == 24000 and audio.size == SAMPLES and len(rest) >= 3
    assert 0.29 * 32767 < np.abs(audio).max() <= 0.3 * 32767 + 1
    assert entry.path == "/v1/audio/speech" and entry.headers["Authorization"] == f"Bearer {KEY}"
    assert entry.body == {"model": DEFAULT_MODEL, "input": TEXT, "voice": "alloy", "response_format": "pcm"}
    assert DEFAULT_MODEL == "tts-1" and KEY not in repr(tts)


async def test_a_voice_a_custom_voice_and_a_model(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    tts = make()
    await tts.synthesize(TEXT, voice_id="coral")
    await tts.synthesize(TEXT, voice_id="voice_1234")
    other = TTS.create("openai", model="gpt-4o-mini-tts")
    try:
        await other.synthesize(TEXT)
    finally:
        await other.aclose()
    assert [r.body["voice"] for r in fake.requests] == ["coral", {"id": "voice_1234"}, "alloy"]
    assert fake.requests[2].body["model"] == "gpt-4o-mini-tts"


def test_an_unknown_voice_is_refused_by_openai_but_not_by_a_compatible_server(
        speech_access: Callable[..., None]) -> None:
    speech_access("openai", api_key=KEY)
    answer = TTS.check("openai", voice_id="en-US-JennyNeural")
    assert answer.status is Status.UNSUPPORTED and answer.setting == "voice_id" and "alloy" in answer.reason
    assert TTS.check("openai", voice_id="shimmer").available and TTS.check("openai", voice_id="voice_x").available
    speech_access("openai", api_key=KEY, base_url="http://127.0.0.1:8880/v1")  # e.g. Kokoro-FastAPI
    assert TTS.check("openai", voice_id="af_heart").available


async def test_a_bad_key_is_refused_without_a_retry(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    with pytest.raises(TTSError, match=r"openai refused the API key \(HTTP 401, invalid_api_key\)") as caught:
        await make(api_key="sk-wrong-0123456789abcdef").synthesize(TEXT)
    assert "sk-" not in str(caught.value) and "cdef" not in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_5xx_once_is_retried(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(status=500, status_times=1)
    assert (await make().synthesize(TEXT)).size == SAMPLES
    assert len(fake.requests) == 2


async def test_a_5xx_twice_is_an_error(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(status=503, status_times=2)
    with pytest.raises(TTSError, match=r"after 2 attempts.*HTTP 503"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 2


async def test_a_drop_before_any_audio_is_retried_one_after_audio_is_an_error(
        fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(drop_after=0)
    assert (await make().synthesize(TEXT)).size == SAMPLES
    assert len(fake.requests) == 2
    fake.faults = Faults(drop_after=2)
    with pytest.raises(TTSError, match="mid-sentence"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 3


async def test_a_server_that_never_answers_is_retried_once_then_an_error(
        fake: FakeOpenAITTS, make: Callable[..., OpenAITTS], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowengine.providers.openai_speech.TIMEOUT_S", 0.3)
    fake.faults = Faults(hang=True)
    with pytest.raises(TTSError, match=r"after 2 attempts.*did not answer within 0.3 s"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 2


async def test_connection_refused_is_an_error(make: Callable[..., OpenAITTS]) -> None:
    with pytest.raises(TTSError, match=r"after 2 attempts.*cannot reach openai"):
        await make(base_url=f"http://127.0.0.1:{closed_port()}/v1").synthesize(TEXT)


async def test_a_garbage_answer_is_an_error(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(garbage=True)
    with pytest.raises(TTSError, match="application/json; charset=utf-8 instead of audio"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 1


async def test_closing_the_stream_closes_the_response(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.05)
    stream = make().stream(TEXT)
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
    assert len(fake.requests[0].messages) < SAMPLES // 2400


async def test_cancelling_the_reader_closes_the_response(fake: FakeOpenAITTS, make: Callable[..., OpenAITTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.05)
    tts = make()
    playing = asyncio.Event()

    async def play() -> None:
        async for _ in tts.stream(TEXT):
            playing.set()

    task = asyncio.create_task(play())
    await playing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")


def test_the_catalogue_needs_a_key(speech_access: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    speech_access("openai")
    assert TTS.check("openai").status is Status.NEEDS_SETUP
    speech_access("openai", api_key=KEY)
    assert TTS.check("openai").available

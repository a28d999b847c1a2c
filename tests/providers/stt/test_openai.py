"""OpenAI transcription through the `openai` client against the local fake: a turn buffered, sent as one WAV."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from flowengine.bench.fakes.openai_stt import FakeOpenAISTT
from flowengine.bench.fakes.server import Faults, tone
from flowengine.providers.catalogue import STT, Status
from flowengine.providers.stt.base import STTError
from flowengine.providers.stt.openai import DEFAULT_MODEL, OpenAISTT
from tests.support import eventually

KEY = "sk-test-0123456789abcdef"
FRAME = 320


def turn(speech_s: float = 0.6, silence_s: float = 0.4) -> np.ndarray:
    return np.concatenate([tone(speech_s, 16000), np.zeros(int(silence_s * 16000), dtype=np.int16)])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAISTT]:
    async with FakeOpenAISTT(api_key=KEY, script=["I need a cleaning.", "Tuesday at ten."]) as server:
        yield server


@pytest.fixture
async def make(fake: FakeOpenAISTT, speech_access: Callable[..., None]) -> AsyncIterator[Callable[..., OpenAISTT]]:
    made: list[OpenAISTT] = []

    def create(**access: str) -> OpenAISTT:
        speech_access("openai", **{"api_key": KEY, "base_url": fake.base_url + "/v1", **access})
        provider = STT.create("openai")
        assert isinstance(provider, OpenAISTT)
        made.append(provider)
        return provider

    yield create
    for provider in made:
        await provider.aclose()


async def test_a_streamed_turn_is_one_wav_and_its_text_comes_back(
        fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    stt = make()
    assert stt.streaming and KEY not in repr(stt)
    stream = await stt.open_stream(language="en-US", keywords=("cleaning", "Dr. Smith"))
    pcm = turn()
    for start in range(0, pcm.size, FRAME):
        await stream.send(pcm[start:start + FRAME])
    assert not fake.requests  # buffered: the HTTP API takes a whole file
    result = await stream.finalize()
    assert result.text == "I need a cleaning." and result.audio_ms == 1000 and stream.sent_ms == 1000
    assert (await stream.finalize()).text == "" and len(fake.requests) == 1  # nothing since: no request
    await stream.aclose()
    sent = fake.requests[0]
    assert sent.path == "/v1/audio/transcriptions" and sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"].startswith("multipart/form-data")
    assert sent.body["model"] == DEFAULT_MODEL == "whisper-1" and sent.body["response_format"] == "json"
    assert sent.body["language"] == "en" and sent.body["prompt"] == "cleaning, Dr. Smith"
    assert sent.body["filename"] == "turn.wav"
    assert sent.body["wav"] == {"channels": 1, "width": 2, "rate": 16000, "frames": pcm.size}


async def test_transcribe_and_a_second_turn(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    stt = make()
    assert (await stt.transcribe(turn())).text == "I need a cleaning."
    assert (await stt.transcribe(np.zeros(16000, dtype=np.int16))).text == ""  # silence heard as nothing
    assert (await stt.transcribe(turn())).text == "Tuesday at ten."
    assert "language" not in fake.requests[0].body and "prompt" not in fake.requests[0].body


async def test_the_model_can_be_named(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT],
                                      speech_access: Callable[..., None]) -> None:
    make()
    stt = STT.create("openai", model="gpt-4o-transcribe")
    assert isinstance(stt, OpenAISTT)
    try:
        await stt.transcribe(turn())
    finally:
        await stt.aclose()
    assert fake.requests[0].body["model"] == "gpt-4o-transcribe"


async def test_a_bad_key_is_refused_at_once_without_a_retry(
        fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    stt = make(api_key="sk-wrong-0123456789abcdef")
    with pytest.raises(STTError, match="refused the API key") as caught:
        await stt.transcribe(turn())
    assert "HTTP 401" in str(caught.value) and "invalid_api_key" in str(caught.value)
    assert "sk-wrong" not in str(caught.value) and "abcdef" not in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_5xx_once_is_retried(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    fake.faults = Faults(status=502, status_times=1)
    assert (await make().transcribe(turn())).text == "I need a cleaning."
    assert len(fake.requests) == 2


async def test_a_429_once_is_retried(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    fake.faults = Faults(status=429, status_times=1)
    assert (await make().transcribe(turn())).text == "I need a cleaning."
    assert len(fake.requests) == 2


async def test_a_5xx_twice_is_an_error(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    fake.faults = Faults(status=500, status_times=2)
    with pytest.raises(STTError, match=r"after 2 attempts: openai answered HTTP 500"):
        await make().transcribe(turn())
    assert len(fake.requests) == 2


async def test_a_dropped_connection_is_retried(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    fake.faults = Faults(drop_after=0, drop_times=1)
    assert (await make().transcribe(turn())).text == "I need a cleaning."
    assert len(fake.requests) == 2


async def test_a_server_that_never_answers_is_retried_once_then_an_error(
        fake: FakeOpenAISTT, make: Callable[..., OpenAISTT], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowengine.providers.openai_speech.TIMEOUT_S", 0.3)
    fake.faults = Faults(hang=True)
    with pytest.raises(STTError, match=r"after 2 attempts: openai did not answer within 0.3 s"):
        await make().transcribe(turn())
    assert len(fake.requests) == 2


async def test_connection_refused_is_an_error(make: Callable[..., OpenAISTT]) -> None:
    stt = make(base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(STTError, match=r"after 2 attempts: cannot reach openai"):
        await stt.transcribe(turn())


async def test_a_garbage_answer_is_an_error(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    fake.faults = Faults(garbage=True)
    with pytest.raises(STTError, match="not JSON"):
        await make().transcribe(turn())
    assert len(fake.requests) == 1


async def test_cancelling_finalize_closes_the_request(fake: FakeOpenAISTT, make: Callable[..., OpenAISTT]) -> None:
    fake.faults = Faults(latency_s=30)
    stream = await make().open_stream()
    await stream.send(turn())
    task = asyncio.create_task(stream.finalize())
    await eventually(lambda: bool(fake.requests), 5, "the request")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
    await stream.aclose()
    with pytest.raises(STTError, match="closed"):
        await stream.send(turn())


def test_the_catalogue_needs_a_key(speech_access: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    speech_access("openai")
    answer = STT.check("openai")
    assert answer.status is Status.NEEDS_SETUP and "OPENAI_API_KEY" in answer.reason
    speech_access("openai", api_key=KEY)
    assert STT.check("openai").available

"""Google Cloud voices (REST v1 text:synthesize: one JSON answer, WAV-wrapped 8 kHz mu-law) against the local fake."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from flowengine.bench.fakes.google_tts import FakeGoogleTTS
from flowengine.bench.fakes.server import Faults, speech_seconds
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.base import TTSError
from flowengine.providers.tts.google import GoogleTTS, voice_language
from tests.support import eventually

KEY = "AIza-test-key-0123456789"
TEXT = "Your appointment is booked for Tuesday."


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeGoogleTTS]:
    async with FakeGoogleTTS(api_key=KEY) as server:
        yield server


@pytest.fixture
async def make(fake: FakeGoogleTTS, speech_access: Callable[..., None]) -> AsyncIterator[Callable[..., GoogleTTS]]:
    made: list[GoogleTTS] = []

    def create(**access: str) -> GoogleTTS:
        speech_access("google", **{"api_key": KEY, "base_url": fake.base_url, **access})
        provider = TTS.create("google")
        assert isinstance(provider, GoogleTTS)
        made.append(provider)
        return provider

    yield create
    for provider in made:
        await provider.aclose()


async def test_the_whole_answer_comes_first_then_it_is_cut_in_chunks(
        fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.02)
    tts = make()
    stream = tts.stream(TEXT)
    first = await anext(stream)
    entry = fake.requests[0]
    assert entry.closed_at > 0 and len(entry.messages) == fake.chunks  # not streamed by Google: all of it came first
    rest = [c async for c in stream]
    audio = np.concatenate([first, *rest])
    assert tts.sample_rate == 8000 and len(rest) >= 2
    assert audio.size == int(speech_seconds(TEXT) * 8000)  # the WAV header stripped, not played as noise
    assert 0.27 * 32767 < np.abs(audio).max() < 0.33 * 32767
    assert entry.path == "/v1/text:synthesize" and entry.headers["x-goog-api-key"] == KEY
    assert entry.body == {"input": {"text": TEXT}, "voice": {"languageCode": "en-US", "name": "en-US-Wavenet-D"},
                          "audioConfig": {"audioEncoding": "MULAW", "sampleRateHertz": 8000}}


async def test_the_language_comes_from_the_voice_unless_given(
        fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    tts = make()
    await tts.synthesize(TEXT, voice_id="de-DE-Neural2-B")
    await tts.synthesize(TEXT, voice_id="cmn-CN-Wavenet-A", language="cmn-CN")
    assert [r.body["voice"] for r in fake.requests] == [{"languageCode": "de-DE", "name": "de-DE-Neural2-B"},
                                                        {"languageCode": "cmn-CN", "name": "cmn-CN-Wavenet-A"}]
    assert voice_language("Kore") == "en-US"


async def test_the_default_host(make: Callable[..., GoogleTTS]) -> None:
    tts = make(base_url="")
    assert repr(tts) == "GoogleTTS(https://texttospeech.googleapis.com/v1/text:synthesize)"


async def test_a_bad_key_is_refused_without_a_retry(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    with pytest.raises(TTSError, match=r"google refused the API key \(HTTP 400\).*API key not valid") as caught:
        await make(api_key="AIza-wrong-0123456789").synthesize(TEXT)
    assert "AIza-wrong" not in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_5xx_once_is_retried(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    fake.faults = Faults(status=503, status_times=1)
    assert (await make().synthesize(TEXT)).size == int(speech_seconds(TEXT) * 8000)
    assert len(fake.requests) == 2


async def test_a_5xx_twice_is_an_error(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    fake.faults = Faults(status=500, status_times=2)
    with pytest.raises(TTSError, match=r"after 2 attempts.*HTTP 500.*INTERNAL"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 2


async def test_an_answer_cut_short_is_retried(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    fake.faults = Faults(drop_after=2)
    assert (await make().synthesize(TEXT)).size == int(speech_seconds(TEXT) * 8000)
    assert len(fake.requests) == 2


async def test_a_bad_request_is_not_retried(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    with pytest.raises(TTSError, match=r"HTTP 400.*input.text"):
        await make().synthesize("")
    assert len(fake.requests) == 1


async def test_a_server_that_never_answers_is_retried_once_then_an_error(
        fake: FakeGoogleTTS, make: Callable[..., GoogleTTS], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowengine.providers.cloud.READ_TIMEOUT_S", 0.3)
    fake.faults = Faults(hang=True)
    with pytest.raises(TTSError, match=r"after 2 attempts.*Timeout"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 2


async def test_connection_refused_is_an_error(make: Callable[..., GoogleTTS]) -> None:
    with pytest.raises(TTSError, match=r"after 2 attempts"):
        await make(base_url=f"http://127.0.0.1:{closed_port()}").synthesize(TEXT)


async def test_a_garbage_answer_is_an_error(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    fake.faults = Faults(garbage=True)
    with pytest.raises(TTSError, match="not a synthesis result"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 1


async def test_cancelling_the_reader_closes_the_request(fake: FakeGoogleTTS, make: Callable[..., GoogleTTS]) -> None:
    fake.faults = Faults(chunk_delay_s=10)
    task = asyncio.create_task(make().synthesize(TEXT))
    await eventually(lambda: bool(fake.requests) and len(fake.requests[0].messages) > 0, 5, "the answer to start")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")


def test_the_catalogue_needs_a_key(speech_access: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    speech_access("google")
    answer = TTS.check("google")
    assert answer.status is Status.NEEDS_SETUP and "GOOGLE_API_KEY" in answer.reason
    speech_access("google", api_key=KEY)
    assert TTS.check("google").available

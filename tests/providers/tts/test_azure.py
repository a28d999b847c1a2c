"""Azure Speech voices (REST, SSML in, 8 kHz mu-law streamed out) against the local fake."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from flowengine.bench.fakes.azure_tts import FakeAzureTTS
from flowengine.bench.fakes.server import Faults, speech_seconds
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.azure import AzureTTS
from flowengine.providers.tts.base import TTSError
from tests.support import eventually

KEY = "azure-test-key-0123456789"
TEXT = "Your appointment is booked for Tuesday."


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chunks_for(text: str) -> int:
    return -(-int(speech_seconds(text) * 8000) // 800)  # 100 ms of mu-law per chunk


@pytest.fixture
async def fake() -> AsyncIterator[FakeAzureTTS]:
    async with FakeAzureTTS(api_key=KEY) as server:
        yield server


@pytest.fixture
async def make(fake: FakeAzureTTS, speech_access: Callable[..., None]) -> AsyncIterator[Callable[..., AzureTTS]]:
    made: list[AzureTTS] = []

    def create(**access: str) -> AzureTTS:
        speech_access("azure", **{"api_key": KEY, "region": "westeurope", "base_url": fake.base_url, **access})
        provider = TTS.create("azure")
        assert isinstance(provider, AzureTTS)
        made.append(provider)
        return provider

    yield create
    for provider in made:
        await provider.aclose()


async def test_speaks_in_chunks_that_arrive_before_the_whole_answer(
        fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.02)
    tts = make()
    stream = tts.stream(TEXT)
    first = await anext(stream)
    entry = fake.requests[0]
    assert len(entry.messages) < chunks_for(TEXT) and entry.closed_at == 0  # the fake is still pacing the rest
    rest = [c async for c in stream]
    audio = np.concatenate([first, *rest])
    assert tts.sample_rate == 8000 and audio.dtype == np.int16
    assert audio.size == int(speech_seconds(TEXT) * 8000) and len(rest) >= 3
    assert 0.27 * 32767 < np.abs(audio).max() < 0.33 * 32767  # the fake's tone, decoded from mu-law
    assert entry.path == "/cognitiveservices/v1" and not entry.closed_by_client
    assert entry.headers["Ocp-Apim-Subscription-Key"] == KEY
    assert entry.headers["Content-Type"] == "application/ssml+xml"
    assert entry.headers["X-Microsoft-OutputFormat"] == "raw-8khz-8bit-mono-mulaw"
    assert entry.headers["User-Agent"] == "flowengine"
    assert (entry.body["voice"], entry.body["lang"], entry.body["text"]) == ("en-US-JennyNeural", "en-US", TEXT)


async def test_the_voice_language_and_escaped_text_reach_azure(
        fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    text = "Tom & Jerry <said> 'hi' \"there\""
    audio = await make().synthesize(text, voice_id="de-DE-KatjaNeural", language="de-DE")
    assert audio.size == int(speech_seconds(text) * 8000)
    body = fake.requests[0].body
    assert (body["voice"], body["lang"], body["text"]) == ("de-DE-KatjaNeural", "de-DE", text)
    assert "&amp;" in body["ssml"] and "&lt;said&gt;" in body["ssml"]


async def test_the_region_names_the_host_unless_a_base_url_is_set(make: Callable[..., AzureTTS]) -> None:
    tts = make(base_url="")
    assert tts.endpoint() == "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    assert KEY not in repr(tts)


async def test_a_bad_key_is_refused_without_a_retry(fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    with pytest.raises(TTSError, match=r"azure refused the API key \(HTTP 401\)") as caught:
        await make(api_key="wrong-key-0123456789").synthesize(TEXT)
    assert "wrong-key" not in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_5xx_once_is_retried(fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    fake.faults = Faults(status=503, status_times=1)
    assert (await make().synthesize(TEXT)).size == int(speech_seconds(TEXT) * 8000)
    assert len(fake.requests) == 2


async def test_a_5xx_twice_is_an_error(fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    fake.faults = Faults(status=500, status_times=2)
    with pytest.raises(TTSError, match=r"after 2 attempts.*HTTP 500"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 2


async def test_a_drop_before_any_audio_is_retried_one_after_audio_is_an_error(
        fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    fake.faults = Faults(drop_after=0)
    assert (await make().synthesize(TEXT)).size == int(speech_seconds(TEXT) * 8000)
    assert len(fake.requests) == 2
    fake.faults = Faults(drop_after=2)
    with pytest.raises(TTSError, match="mid-sentence"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 3  # never repeated once audio was played


async def test_a_server_that_never_answers_is_retried_once_then_an_error(
        fake: FakeAzureTTS, make: Callable[..., AzureTTS], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowengine.providers.cloud.READ_TIMEOUT_S", 0.3)
    fake.faults = Faults(hang=True)
    with pytest.raises(TTSError, match=r"after 2 attempts.*Timeout"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 2


async def test_connection_refused_is_an_error(make: Callable[..., AzureTTS]) -> None:
    with pytest.raises(TTSError, match=r"after 2 attempts"):
        await make(base_url=f"http://127.0.0.1:{closed_port()}").synthesize(TEXT)


async def test_a_garbage_answer_is_an_error(fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    fake.faults = Faults(garbage=True)
    with pytest.raises(TTSError, match="text/html instead of audio"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 1


async def test_closing_the_stream_closes_the_request(fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.05)
    stream = make().stream(TEXT)
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
    assert len(fake.requests[0].messages) < chunks_for(TEXT)


async def test_cancelling_the_reader_closes_the_request(fake: FakeAzureTTS, make: Callable[..., AzureTTS]) -> None:
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


def test_the_catalogue_needs_a_key_and_a_region(speech_access: Callable[..., None],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_SPEECH_KEY", "SPEECH_KEY", "AZURE_SPEECH_REGION", "SPEECH_REGION"):
        monkeypatch.delenv(name, raising=False)
    speech_access("azure")
    answer = TTS.check("azure")
    assert answer.status is Status.NEEDS_SETUP and "api_key" in answer.reason and "region" in answer.reason
    speech_access("azure", api_key=KEY, region="westeurope")
    assert TTS.check("azure").available and TTS.check("azure", voice_id="en-GB-SoniaNeural").available

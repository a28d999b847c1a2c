"""Azure Speech recognition (REST for short audio, streamed per turn) against the local fake."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from flowengine.bench.fakes.azure_stt import CONTENT_TYPE, PATH, FakeAzureSTT
from flowengine.bench.fakes.server import Faults, tone
from flowengine.providers.catalogue import STT, Status
from flowengine.providers.stt.azure import AzureSTT
from flowengine.providers.stt.base import STTError, STTStream
from tests.support import eventually

KEY = "azure-test-key-0123456789"
FRAME = 320  # 20 ms at 16 kHz


def turn(speech_s: float = 0.6, silence_s: float = 0.4) -> np.ndarray:
    return np.concatenate([tone(speech_s, 16000), np.zeros(int(silence_s * 16000), dtype=np.int16)])


async def speak(stream: STTStream, pcm: np.ndarray) -> None:
    for start in range(0, pcm.size, FRAME):
        await stream.send(pcm[start:start + FRAME])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeAzureSTT]:
    async with FakeAzureSTT(api_key=KEY, script=["I need a cleaning.", "Tuesday at ten."]) as server:
        yield server


@pytest.fixture
async def make(fake: FakeAzureSTT, speech_access: Callable[..., None]) -> AsyncIterator[Callable[..., AzureSTT]]:
    made: list[AzureSTT] = []

    def create(**access: str) -> AzureSTT:
        speech_access("azure", **{"api_key": KEY, "region": "westeurope", "base_url": fake.base_url, **access})
        provider = STT.create("azure")
        assert isinstance(provider, AzureSTT)
        made.append(provider)
        return provider

    yield create
    for provider in made:  # also when a test failed half-way
        await provider.aclose()


async def test_a_turn_goes_out_while_it_is_spoken_and_its_text_comes_back(
        fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make()
    assert stt.streaming
    stream = await stt.open_stream()
    pcm = turn()
    await speak(stream, pcm[:8000])
    # the request is open and carries audio before the turn ends
    await eventually(lambda: bool(fake.requests) and fake.requests[0].audio_bytes > 0, 5, "audio at the fake")
    await speak(stream, pcm[8000:])
    result = await stream.finalize()
    await stream.aclose()
    await stt.aclose()
    assert result.text == "I need a cleaning." and result.confidence == pytest.approx(0.93)
    assert result.audio_ms == 1000 and stream.sent_ms == 1000 and stream.interim == ""
    sent = fake.requests[0]
    assert sent.path == PATH and sent.query == {"language": "en-US", "format": "detailed"}
    assert sent.headers["Ocp-Apim-Subscription-Key"] == KEY and sent.headers["Content-Type"] == CONTENT_TYPE
    assert sent.headers["Transfer-Encoding"] == "chunked"
    assert {k: sent.body[k] for k in ("format", "channels", "rate", "bits")} == {
        "format": 1, "channels": 1, "rate": 16000, "bits": 16}
    assert sent.body["data_size"] == 0xFFFFFFFF  # open-ended: the length is not known when the turn starts
    assert sent.audio_bytes == pcm.size * 2 and len(sent.messages) > 2  # many pieces, not one upload
    assert not sent.closed_by_client


async def test_each_turn_is_one_request_in_the_streams_language(
        fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make()
    stream = await stt.open_stream(language="de-DE", keywords=("Zahnreinigung",))
    texts = []
    for _ in range(2):
        await speak(stream, turn())
        texts.append((await stream.finalize()).text)
    assert (await stream.finalize()).text == ""  # nothing sent since: no request
    await stream.aclose()
    await stt.aclose()
    assert texts == ["I need a cleaning.", "Tuesday at ten."]
    assert [r.query["language"] for r in fake.requests] == ["de-DE", "de-DE"]


async def test_silence_is_an_empty_text_and_transcribe_runs_one_turn(
        fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make()
    assert (await stt.transcribe(np.zeros(16000, dtype=np.int16))).text == ""  # InitialSilenceTimeout
    assert (await stt.transcribe(turn())).text == "I need a cleaning."
    await stt.aclose()
    assert len(fake.requests) == 2


async def test_the_region_names_the_host_unless_a_base_url_is_set(make: Callable[..., AzureSTT]) -> None:
    stt = make(base_url="")
    assert stt.endpoint() == f"https://westeurope.stt.speech.microsoft.com{PATH}"
    assert KEY not in repr(stt)


async def test_a_bad_key_is_refused_at_once_without_a_retry(
        fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make(api_key="wrong-key-0123456789")
    with pytest.raises(STTError, match="refused the API key") as caught:
        await stt.transcribe(turn())
    await stt.aclose()
    assert "wrong-key" not in str(caught.value) and "HTTP 401" in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_refused_key_surfaces_on_the_next_frame(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make(api_key="wrong-key-0123456789")
    stream = await stt.open_stream()
    await stream.send(tone(0.02, 16000))
    await eventually(lambda: bool(fake.requests), 5, "the request")
    with pytest.raises(STTError, match="refused the API key"):
        for _ in range(500):  # 10 s of frames at most: the refusal arrives long before
            await stream.send(tone(0.02, 16000))
            await asyncio.sleep(0.02)
    await stream.aclose()
    await stt.aclose()
    assert len(fake.requests) == 1


async def test_a_5xx_once_is_retried_with_the_whole_turn(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    fake.faults = Faults(status=503, status_times=1)
    stt = make()
    pcm = turn()
    assert (await stt.transcribe(pcm)).text == "I need a cleaning."
    await stt.aclose()
    assert len(fake.requests) == 2 and fake.requests[1].audio_bytes == pcm.size * 2


async def test_a_5xx_twice_is_an_error(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    fake.faults = Faults(status=500, status_times=2)
    stt = make()
    with pytest.raises(STTError, match=r"after 2 attempts.*HTTP 500"):
        await stt.transcribe(turn())
    await stt.aclose()
    assert len(fake.requests) == 2


async def test_a_request_dropped_mid_turn_is_retried_with_the_audio_sent_so_far(
        fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    fake.faults = Faults(drop_after=3)
    stt = make()
    stream = await stt.open_stream()
    pcm = turn()
    for start in range(0, pcm.size, FRAME):  # paced like a call, so the drop happens mid-turn
        await stream.send(pcm[start:start + FRAME])
        await asyncio.sleep(0.005)
    assert (await stream.finalize()).text == "I need a cleaning."
    await stream.aclose()
    await stt.aclose()
    first, second = fake.requests
    assert first.audio_bytes < pcm.size * 2 and not first.closed_by_client  # the fake broke it mid-turn
    assert second.audio_bytes == pcm.size * 2


async def test_a_server_that_never_answers_is_retried_once_then_an_error(
        fake: FakeAzureSTT, make: Callable[..., AzureSTT], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowengine.providers.cloud.READ_TIMEOUT_S", 0.3)
    fake.faults = Faults(hang=True)
    with pytest.raises(STTError, match=r"after 2 attempts.*Timeout"):
        await make().transcribe(turn())
    assert len(fake.requests) == 2


async def test_connection_refused_is_an_error(make: Callable[..., AzureSTT]) -> None:
    stt = make(base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(STTError, match=r"after 2 attempts"):
        await stt.transcribe(turn())
    await stt.aclose()


async def test_a_garbage_answer_is_an_error(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    fake.faults = Faults(garbage=True)
    stt = make()
    with pytest.raises(STTError, match="not a recognition result"):
        await stt.transcribe(turn())
    await stt.aclose()
    assert len(fake.requests) == 1


async def test_recognition_statuses(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make()
    fake.status = "NoMatch"
    assert (await stt.transcribe(turn())).text == ""
    fake.status = "Error"
    with pytest.raises(STTError, match="RecognitionStatus Error"):
        await stt.transcribe(turn())
    assert len(fake.requests) == 2  # an answer, even a failed one, is not retried


async def test_aclose_mid_turn_aborts_the_request(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    stt = make()
    stream = await stt.open_stream()
    await speak(stream, turn()[:8000])
    await eventually(lambda: bool(fake.requests) and fake.requests[0].audio_bytes > 0, 5, "audio at the fake")
    await stream.aclose()
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
    with pytest.raises(STTError, match="closed"):
        await stream.send(tone(0.02, 16000))
    await stt.aclose()


async def test_cancelling_finalize_aborts_the_request(fake: FakeAzureSTT, make: Callable[..., AzureSTT]) -> None:
    fake.faults = Faults(latency_s=30)  # the answer would come much later
    stt = make()
    stream = await stt.open_stream()
    await speak(stream, turn())
    task = asyncio.create_task(stream.finalize())
    await eventually(lambda: bool(fake.requests), 5, "the request")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
    await stream.aclose()
    await stt.aclose()
    assert len(fake.requests) == 1


def test_the_catalogue_needs_a_key_and_a_region(speech_access: Callable[..., None],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_SPEECH_KEY", "SPEECH_KEY", "AZURE_SPEECH_REGION", "SPEECH_REGION"):
        monkeypatch.delenv(name, raising=False)
    speech_access("azure")
    answer = STT.check("azure")
    assert answer.status is Status.NEEDS_SETUP and "api_key" in answer.reason and "region" in answer.reason
    speech_access("azure", api_key=KEY)
    assert STT.check("azure").status is Status.NEEDS_SETUP
    speech_access("azure", api_key=KEY, region="westeurope")
    assert STT.check("azure").available

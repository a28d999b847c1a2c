"""AWS Polly voices (SynthesizeSpeech, SigV4, 8 kHz PCM streamed) against the local fake."""
from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from flowengine.bench.fakes.polly_tts import FakePollyTTS
from flowengine.bench.fakes.server import Faults, speech_seconds
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.aws import PollyTTS
from flowengine.providers.tts.base import TTSError
from tests.support import eventually

ACCESS, SECRET = "AKIDTESTPOLLY", "polly/secret+0123456789"
TEXT = "Your appointment is booked for Tuesday."


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakePollyTTS]:
    async with FakePollyTTS(api_key=ACCESS, secret_key=SECRET, region="eu-central-1") as server:
        yield server


@pytest.fixture
async def make(fake: FakePollyTTS, speech_access: Callable[..., None]) -> AsyncIterator[Callable[..., PollyTTS]]:
    made: list[PollyTTS] = []

    def create(**access: str) -> PollyTTS:
        speech_access("aws", **{"api_key": ACCESS, "secret": SECRET, "region": "eu-central-1",
                                "base_url": fake.base_url, **access})
        provider = TTS.create("aws")
        assert isinstance(provider, PollyTTS)
        made.append(provider)
        return provider

    yield create
    for provider in made:
        await provider.aclose()


async def test_speaks_signed_8khz_pcm_in_chunks_that_arrive_before_the_end(
        fake: FakePollyTTS, make: Callable[..., PollyTTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.02)
    tts = make()
    stream = tts.stream(TEXT)
    first = await anext(stream)
    assert first.dtype == np.int16 and first.size == 800 and not fake.requests[0].closed_at  # 100 ms, not the end
    rest = [c async for c in stream]
    total = sum(c.size for c in [first, *rest])
    assert total == int(speech_seconds(TEXT) * 8000) and tts.sample_rate == 8000
    assert np.abs(np.concatenate([first, *rest])).max() > 5000  # the tone, decoded as s16le
    sent = fake.requests[0]
    assert sent.body == {"Text": TEXT, "VoiceId": "Joanna", "OutputFormat": "pcm", "SampleRate": "8000",
                         "Engine": "neural", "TextType": "text"}
    assert sent.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS}/")
    assert "/eu-central-1/polly/aws4_request" in sent.headers["Authorization"] and fake.refusal == ""


async def test_a_wrong_secret_is_refused_at_once(fake: FakePollyTTS, make: Callable[..., PollyTTS]) -> None:
    with pytest.raises(TTSError, match=r"aws refused the API key \(HTTP 403\): .*signature we calculated does not match"):
        await make(secret="not-the-secret-0000").synthesize(TEXT)
    assert fake.refusal == "signature mismatch" and len(fake.requests) == 1


async def test_a_voice_polly_lacks_is_refused_with_its_reason(fake: FakePollyTTS, make: Callable[..., PollyTTS]) -> None:
    with pytest.raises(TTSError, match=r"HTTP 400.*'Nobody' at 'voiceId'"):
        await make().synthesize(TEXT, voice_id="Nobody")
    with pytest.raises(TTSError, match="does not support the selected engine: neural"):
        await make().synthesize(TEXT, voice_id="Raveena")
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [500, 429])
async def test_failure_before_audio_is_retried_once(fake: FakePollyTTS, make: Callable[..., PollyTTS],
                                                    status: int) -> None:
    fake.faults = Faults(status=status, status_times=1)
    assert (await make().synthesize(TEXT)).size == int(speech_seconds(TEXT) * 8000)
    assert len(fake.requests) == 2
    fake.faults = Faults(status=status)
    with pytest.raises(TTSError, match=f"after 2 attempts.*HTTP {status}"):
        await make().synthesize(TEXT)


async def test_connection_refused_and_garbage(fake: FakePollyTTS, make: Callable[..., PollyTTS]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TTSError, match="after 2 attempts"):
        await make(base_url=f"http://127.0.0.1:{port}").synthesize(TEXT)
    fake.faults = Faults(garbage=True)
    with pytest.raises(TTSError, match="application/json instead of audio"):
        await make().synthesize(TEXT)


async def test_a_drop_mid_sentence_is_an_error_not_a_repeat(fake: FakePollyTTS, make: Callable[..., PollyTTS]) -> None:
    fake.faults = Faults(drop_after=2)
    with pytest.raises(TTSError, match="mid-sentence"):
        await make().synthesize(TEXT)
    assert len(fake.requests) == 1


async def test_barge_in_closes_the_request(fake: FakePollyTTS, make: Callable[..., PollyTTS]) -> None:
    fake.faults = Faults(chunk_delay_s=0.05)
    stream = make().stream(TEXT)
    await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    entry = fake.requests[0]
    await eventually(lambda: entry.closed_by_client, timeout=3, what="the fake sees the client go")
    assert entry.audio_bytes < int(speech_seconds(TEXT) * 8000) * 2  # it stopped sending: not the whole sentence


def test_catalogue_needs_key_secret_and_region(speech_access: Callable[..., None]) -> None:
    answer = TTS.check("aws")
    assert answer.status is Status.NEEDS_SETUP and "AWS_SECRET_ACCESS_KEY" in answer.reason
    speech_access("aws", api_key=ACCESS, secret=SECRET, region="us-east-1")
    assert TTS.check("aws").available
    tts = TTS.create("aws")
    assert SECRET not in repr(tts) and "polly.us-east-1.amazonaws.com/v1/speech" in repr(tts)

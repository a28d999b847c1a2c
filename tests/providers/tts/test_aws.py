"""AWS Polly voices (SynthesizeSpeech, SigV4, 8 kHz PCM streamed) against the local fake: the signed request, a
wrong secret, Polly's voice refusals, throttling, then the voice contract."""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from flowengine.bench.fakes.polly_tts import FakePollyTTS
from flowengine.bench.fakes.server import Faults
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS
from flowengine.providers.tts.base import TTSError
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract

SECRET = "polly/secret+0123456789"


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


class TestPollyVoice(StreamedVoiceContract):
    vendor = "aws"
    fake_class = FakePollyTTS
    default_voice = "Joanna"
    fake_rate = 8000
    access_fields: ClassVar[dict[str, str]] = {"secret": SECRET, "region": "eu-central-1"}
    fake_kwargs: ClassVar[dict[str, str]] = {"secret_key": SECRET, "region": "eu-central-1"}
    other_voice = "Matthew"
    refused_key_error = r"aws refused the API key \(HTTP 403\)"
    server_error = r"after 2 attempts.*HTTP 500"
    garbage_error = "application/json instead of audio"
    garbage_attempts = 1
    hang_error = r"after 2 attempts.*Timeout"
    timeout_setting = "flowengine.providers.cloud.READ_TIMEOUT_S"

    def voice_seen(self, entry: VoiceRecord) -> str:
        return str(entry.body["VoiceId"])

    async def test_the_request_is_signed_8khz_pcm(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=0.02)) as (fake, provider):
            stream = provider.stream(TEXT)
            first = await anext(stream)
            rest = [c async for c in stream]
        assert first.dtype == np.int16 and first.size == 800  # 100 ms, as the fake cut it
        assert np.abs(np.concatenate([first, *rest])).max() > 5000  # the tone, decoded as s16le
        sent = fake.requests[0]
        assert sent.body == {"Text": TEXT, "VoiceId": "Joanna", "OutputFormat": "pcm", "SampleRate": "8000",
                             "Engine": "neural", "TextType": "text"}
        assert sent.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=test-key/")
        assert "/eu-central-1/polly/aws4_request" in sent.headers["Authorization"] and fake.refusal == ""

    async def test_a_wrong_secret_is_refused_at_once(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, _):
            speech_access("aws", api_key="test-key", secret="not-the-secret-0000", region="eu-central-1",
                          base_url=fake.base_url)
            wrong = TTS.create("aws")
            try:
                with pytest.raises(TTSError, match=r"aws refused the API key \(HTTP 403\): .*signature we calculated"):
                    await wrong.synthesize(TEXT)
            finally:
                await wrong.aclose()
        assert fake.refusal == "signature mismatch" and len(fake.requests) == 1

    async def test_a_voice_polly_lacks_is_refused_with_its_reason(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            with pytest.raises(TTSError, match=r"HTTP 400.*'Nobody' at 'voiceId'"):
                await provider.synthesize(TEXT, voice_id="Nobody")
            with pytest.raises(TTSError, match="does not support the selected engine: neural"):
                await provider.synthesize(TEXT, voice_id="Raveena")
        assert len(fake.requests) == 2

    async def test_throttling_before_audio_is_retried_once(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(status=429, status_times=1)) as (fake, provider):
            assert (await provider.synthesize(TEXT)).size == self.expected_samples()
            assert len(fake.requests) == 2
            fake.faults = Faults(status=429)
            with pytest.raises(TTSError, match=r"after 2 attempts.*HTTP 429"):
                await provider.synthesize(TEXT)

    def test_the_secret_stays_out_of_the_repr(self, speech_access: SpeechAccess) -> None:
        speech_access("aws", api_key="AKIDTESTPOLLY", secret=SECRET, region="us-east-1")
        tts = TTS.create("aws")
        assert SECRET not in repr(tts) and "polly.us-east-1.amazonaws.com/v1/speech" in repr(tts)

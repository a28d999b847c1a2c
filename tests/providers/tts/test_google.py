"""Google Cloud voices (REST v1 text:synthesize: one JSON answer, WAV-wrapped 8 kHz mu-law) against the local fake:
the request's shape, the language from the voice, an answer that arrives whole, then the voice contract."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from flowengine.bench.fakes.google_tts import FakeGoogleTTS
from flowengine.bench.fakes.server import Faults, speech_seconds
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS
from flowengine.providers.tts.base import TTSError
from flowengine.providers.tts.google import voice_language
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, VoiceContract
from tests.support import eventually

# Google answers the whole sentence as one JSON document: nothing can be played before the last byte came. It
# takes the VoiceContract, not the StreamedVoiceContract; the tests below say what it does instead.


class TestGoogleVoice(VoiceContract):
    vendor = "google"
    fake_class = FakeGoogleTTS
    default_voice = "en-US-Wavenet-D"
    fake_rate = 8000
    other_voice = "de-DE-Neural2-B"
    refused_key_error = r"google refused the API key \(HTTP 400\).*API key not valid"
    server_error = r"after 2 attempts.*HTTP 500.*INTERNAL"
    garbage_error = "not a synthesis result"
    garbage_attempts = 1
    hang_error = r"after 2 attempts.*Timeout"
    timeout_setting = "flowengine.providers.cloud.READ_TIMEOUT_S"

    def voice_seen(self, entry: VoiceRecord) -> str:
        return str(entry.body["voice"]["name"])

    async def test_the_whole_answer_comes_first_then_it_is_cut_in_chunks(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=0.02)) as (fake, provider):
            stream = provider.stream(TEXT)
            first = await anext(stream)
            entry = fake.requests[0]
            assert entry.closed_at > 0 and len(entry.messages) == fake.chunks  # all of it came first
            rest = [c async for c in stream]
        audio = np.concatenate([first, *rest])
        assert provider.sample_rate == 8000 and len(rest) >= 2
        assert audio.size == int(speech_seconds(TEXT) * 8000)  # the WAV header stripped, not played as noise
        assert 0.27 * 32767 < np.abs(audio).max() < 0.33 * 32767
        assert entry.path == "/v1/text:synthesize" and entry.headers["x-goog-api-key"] == "test-key"
        assert entry.body == {"input": {"text": TEXT}, "voice": {"languageCode": "en-US", "name": "en-US-Wavenet-D"},
                              "audioConfig": {"audioEncoding": "MULAW", "sampleRateHertz": 8000}}

    async def test_the_language_comes_from_the_voice_unless_given(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT, voice_id="de-DE-Neural2-B")
            await provider.synthesize(TEXT, voice_id="cmn-CN-Wavenet-A", language="cmn-CN")
        assert [r.body["voice"] for r in fake.requests] == [{"languageCode": "de-DE", "name": "de-DE-Neural2-B"},
                                                            {"languageCode": "cmn-CN", "name": "cmn-CN-Wavenet-A"}]
        assert voice_language("Kore") == "en-US"

    def test_the_default_host(self, speech_access: SpeechAccess) -> None:
        speech_access("google", api_key="AIza-test-key-0123456789")
        assert repr(TTS.create("google")) == "GoogleTTS(https://texttospeech.googleapis.com/v1/text:synthesize)"

    async def test_an_answer_cut_short_is_retried(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(drop_after=2)) as (fake, provider):
            assert (await provider.synthesize(TEXT)).size == self.expected_samples()
        assert len(fake.requests) == 2

    async def test_a_bad_request_is_not_retried(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            with pytest.raises(TTSError, match=r"HTTP 400.*input.text"):
                await provider.synthesize("")
        assert len(fake.requests) == 1

    async def test_cancelling_while_the_answer_downloads_closes_the_request(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=10)) as (fake, provider):
            task = asyncio.create_task(provider.synthesize(TEXT))
            await eventually(lambda: bool(fake.requests) and len(fake.requests[0].messages) > 0, 5,
                             "the answer to start")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")

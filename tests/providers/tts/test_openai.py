"""OpenAI voices through the `openai` client's streamed speech answer (24 kHz PCM) against the local fake: the
request's shape, voices and models, then the voice contract."""
from __future__ import annotations

import numpy as np
import pytest

from flowengine.bench.fakes.openai_tts import FakeOpenAITTS
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.base import TTSError
from flowengine.providers.tts.openai import DEFAULT_MODEL
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract


class TestOpenAIVoice(StreamedVoiceContract):
    vendor = "openai"
    fake_class = FakeOpenAITTS
    default_voice = "alloy"
    fake_rate = 24000
    other_voice = "coral"
    refused_key_error = r"openai refused the API key \(HTTP 401, invalid_api_key\)"
    server_error = r"after 2 attempts.*HTTP 500"
    unreachable_error = r"after 2 attempts.*cannot reach openai"
    garbage_error = "application/json; charset=utf-8 instead of audio"
    garbage_attempts = 1
    hang_error = r"after 2 attempts.*did not answer within 0.3 s"
    timeout_setting = "flowengine.providers.openai_speech.TIMEOUT_S"

    def voice_seen(self, entry: VoiceRecord) -> str:
        return str(entry.body["voice"])

    def base_url_at(self, server: str) -> str:
        return server + "/v1"

    async def test_the_request_is_the_documented_speech_call(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            audio = await provider.synthesize(TEXT)
        (entry,) = fake.requests
        assert 0.29 * 32767 < np.abs(audio).max() <= 0.3 * 32767 + 1
        assert entry.path == "/v1/audio/speech" and entry.headers["Authorization"] == "Bearer test-key"
        assert entry.body == {"model": DEFAULT_MODEL, "input": TEXT, "voice": "alloy", "response_format": "pcm"}
        assert DEFAULT_MODEL == "tts-1" and "test-key" not in repr(provider)

    async def test_a_custom_voice_and_a_model(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT, voice_id="voice_1234")
            other = TTS.create("openai", model="gpt-4o-mini-tts")
            try:
                await other.synthesize(TEXT)
            finally:
                await other.aclose()
        assert [r.body["voice"] for r in fake.requests] == [{"id": "voice_1234"}, "alloy"]
        assert fake.requests[1].body["model"] == "gpt-4o-mini-tts"

    def test_an_unknown_voice_is_refused_by_openai_but_not_by_a_compatible_server(
            self, speech_access: SpeechAccess) -> None:
        speech_access("openai", api_key="k")
        answer = TTS.check("openai", voice_id="en-US-JennyNeural")
        assert answer.status is Status.UNSUPPORTED and answer.setting == "voice_id" and "alloy" in answer.reason
        assert TTS.check("openai", voice_id="shimmer").available and TTS.check("openai", voice_id="voice_x").available
        speech_access("openai", api_key="k", base_url="http://127.0.0.1:8880/v1")  # e.g. Kokoro-FastAPI
        assert TTS.check("openai", voice_id="af_heart").available

    async def test_the_masked_key_in_openais_refusal_is_not_repeated(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, api_key="sk-wrong-0123456789abcdef") as (fake, provider):
            with pytest.raises(TTSError, match="refused the API key") as caught:
                await provider.synthesize(TEXT)
        assert "sk-" not in str(caught.value) and "cdef" not in str(caught.value)  # the fake echoes "sk-***cdef"
        assert len(fake.requests) == 1

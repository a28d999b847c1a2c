"""Azure Speech voices (REST, SSML in, 8 kHz mu-law streamed out) against the local fake: the request's shape, the
SSML and the region, then the voice contract."""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from flowengine.bench.fakes.azure_tts import FakeAzureTTS
from flowengine.bench.fakes.server import speech_seconds
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.azure import AzureTTS
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract


class TestAzureVoice(StreamedVoiceContract):
    vendor = "azure"
    fake_class = FakeAzureTTS
    default_voice = "en-US-JennyNeural"
    fake_rate = 8000
    access_fields: ClassVar[dict[str, str]] = {"region": "westeurope"}
    other_voice = "en-GB-SoniaNeural"
    refused_key_error = r"azure refused the API key \(HTTP 401\)"
    server_error = r"after 2 attempts.*HTTP 500"
    garbage_error = "text/html instead of audio"
    garbage_attempts = 1
    hang_error = r"after 2 attempts.*Timeout"
    timeout_setting = "flowengine.providers.cloud.READ_TIMEOUT_S"

    def voice_seen(self, entry: VoiceRecord) -> str:
        return str(entry.body["voice"])

    async def test_the_request_is_the_documented_ssml_call(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            audio = await provider.synthesize(TEXT)
        (entry,) = fake.requests
        assert 0.27 * 32767 < np.abs(audio).max() < 0.33 * 32767  # the fake's tone, decoded from mu-law
        assert entry.path == "/cognitiveservices/v1" and not entry.closed_by_client
        assert entry.headers["Ocp-Apim-Subscription-Key"] == "test-key"
        assert entry.headers["Content-Type"] == "application/ssml+xml"
        assert entry.headers["X-Microsoft-OutputFormat"] == "raw-8khz-8bit-mono-mulaw"
        assert entry.headers["User-Agent"] == "flowengine"
        assert (entry.body["voice"], entry.body["lang"], entry.body["text"]) == ("en-US-JennyNeural", "en-US", TEXT)

    async def test_the_voice_language_and_escaped_text_reach_azure(self, speech_access: SpeechAccess) -> None:
        text = "Tom & Jerry <said> 'hi' \"there\""
        async with self.voice(speech_access) as (fake, provider):
            audio = await provider.synthesize(text, voice_id="de-DE-KatjaNeural", language="de-DE")
        assert audio.size == int(speech_seconds(text) * 8000)
        body = fake.requests[0].body
        assert (body["voice"], body["lang"], body["text"]) == ("de-DE-KatjaNeural", "de-DE", text)
        assert "&amp;" in body["ssml"] and "&lt;said&gt;" in body["ssml"]

    def test_the_region_names_the_host_unless_a_base_url_is_set(self, speech_access: SpeechAccess) -> None:
        speech_access("azure", api_key="azure-test-key-0123456789", region="westeurope")
        tts = TTS.create("azure")
        assert isinstance(tts, AzureTTS)
        assert tts.endpoint() == "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
        assert "azure-test-key-0123456789" not in repr(tts)

    def test_a_key_without_a_region_is_not_enough(self, speech_access: SpeechAccess,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("AZURE_SPEECH_REGION", "SPEECH_REGION"):
            monkeypatch.delenv(name, raising=False)
        speech_access("azure", api_key="k")
        answer = TTS.check("azure")
        assert answer.status is Status.NEEDS_SETUP and "region" in answer.reason and "api_key" not in answer.reason

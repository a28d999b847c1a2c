"""The Deepgram Aura voice against its local fake: the speak request's shape, then the voice contract."""
from __future__ import annotations

from flowengine.bench.fakes.deepgram_tts import FakeDeepgramTTS
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS, Status
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract


class TestDeepgramVoice(StreamedVoiceContract):
    vendor = "deepgram"
    fake_class = FakeDeepgramTTS
    default_voice = "aura-2-thalia-en"
    fake_rate = 8000

    def voice_seen(self, entry: VoiceRecord) -> str:
        return entry.query["model"]

    async def test_the_request_is_the_documented_speak_call(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT, voice_id="aura-2-orion-en")
        (entry,) = fake.requests
        assert entry.path == "/v1/speak"
        assert entry.query == {"model": "aura-2-orion-en", "encoding": "mulaw", "sample_rate": "8000",
                               "container": "none"}
        assert entry.headers["Authorization"] == "Token test-key"
        assert entry.body == {"text": TEXT}
        assert entry.finished and not entry.closed_by_client


def test_a_voice_id_that_is_no_aura_model_is_refused_naming_it(speech_access: SpeechAccess) -> None:
    speech_access("deepgram", api_key="k")
    assert TTS.check("deepgram", voice_id="aura-2-orion-en").status is Status.AVAILABLE
    answer = TTS.check("deepgram", voice_id="thalia")
    assert answer.status is Status.UNSUPPORTED and answer.setting == "voice_id" and "'thalia'" in answer.reason

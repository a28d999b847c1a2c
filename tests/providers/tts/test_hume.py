"""The Hume voice against its local fake: the NDJSON stream request (a voice, instant mode), then the voice
contract at Hume's 48 kHz."""
from __future__ import annotations

from flowengine.bench.fakes.hume_tts import FakeHumeTTS
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.tts.hume import voice_spec
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract


class TestHumeVoice(StreamedVoiceContract):
    vendor = "hume"
    fake_class = FakeHumeTTS
    default_voice = "HUME_AI:Ava Song"
    fake_rate = 48000

    def voice_seen(self, entry: VoiceRecord) -> str:
        spec = entry.body["utterances"][0]["voice"]
        name = spec.get("name") or spec["id"]
        return f"HUME_AI:{name}" if spec["provider"] == "HUME_AI" else str(name)

    async def test_the_request_is_the_documented_stream_call(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT)
        (entry,) = fake.requests
        assert entry.path == "/v0/tts/stream/json" and entry.query == {}
        assert entry.headers["X-Hume-Api-Key"] == "test-key"
        assert entry.body == {"utterances": [{"text": TEXT, "voice": {"name": "Ava Song", "provider": "HUME_AI"}}],
                              "format": {"type": "pcm"}, "instant_mode": True}
        assert entry.finished and not entry.closed_by_client


def test_a_voice_id_names_a_library_or_an_account_voice_by_name_or_id() -> None:
    uuid = "5bb7de05-c8fe-426a-8fcc-ba4fc4ce9f9c"
    assert voice_spec("HUME_AI:Ava Song") == {"name": "Ava Song", "provider": "HUME_AI"}
    assert voice_spec(f"HUME_AI:{uuid}") == {"id": uuid, "provider": "HUME_AI"}
    assert voice_spec("My narrator") == {"name": "My narrator", "provider": "CUSTOM_VOICE"}
    assert voice_spec(uuid) == {"id": uuid, "provider": "CUSTOM_VOICE"}

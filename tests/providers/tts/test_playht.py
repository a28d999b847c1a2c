"""The PlayHT voice against its local fake: the stream request's shape and credentials, then the voice contract."""
from __future__ import annotations

from typing import ClassVar

import pytest

from flowengine.bench.fakes.playht_tts import FakePlayHTTTS
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.tts.base import TTSError
from flowengine.providers.tts.playht import DEFAULT_VOICE
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract


class TestPlayHTVoice(StreamedVoiceContract):
    vendor = "playht"
    fake_class = FakePlayHTTTS
    default_voice = DEFAULT_VOICE
    fake_rate = 8000
    access_fields: ClassVar[dict[str, str]] = {"account": "test-user"}

    def voice_seen(self, entry: VoiceRecord) -> str:
        return str(entry.body["voice"])

    async def test_the_request_is_the_documented_stream_call(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT)
        (entry,) = fake.requests
        assert entry.path == "/api/v2/tts/stream" and entry.query == {}
        headers = {name.lower(): value for name, value in entry.headers.items()}
        assert headers["authorization"] == "Bearer test-key" and headers["x-user-id"] == "test-user"
        assert headers["accept"] == "audio/basic"
        assert entry.body == {"text": TEXT, "voice": DEFAULT_VOICE, "voice_engine": "Play3.0-mini",
                              "output_format": "mulaw", "sample_rate": 8000}
        assert DEFAULT_VOICE.startswith("s3://voice-cloning-zero-shot/") and DEFAULT_VOICE.endswith("/manifest.json")
        assert entry.finished and not entry.closed_by_client

    async def test_a_wrong_user_id_is_refused_like_a_bad_key(self, speech_access: SpeechAccess) -> None:
        async with FakePlayHTTTS(user_id="someone-else") as fake:
            speech_access("playht", api_key="test-key", account="test-user", base_url=fake.base_url)
            from flowengine.providers.tts.playht import PlayHTTTS

            provider = PlayHTTTS()
            try:
                with pytest.raises(TTSError, match="refused the API key"):
                    await provider.synthesize(TEXT)
            finally:
                await provider.aclose()
        assert len(fake.requests) == 1

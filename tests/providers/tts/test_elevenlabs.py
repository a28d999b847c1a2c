"""The ElevenLabs voice against its local fake: the stream-input socket's shape, then the voice contract."""
from __future__ import annotations

import base64
import json

import pytest
from aiohttp import web

from flowengine.bench.fakes.elevenlabs_tts import FakeElevenLabsTTS
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.tts.base import TTSError
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract


class ErringFake(FakeElevenLabsTTS):
    """Sends ElevenLabs' error JSON and closes with 1008 after `error_after` audio messages, `errors` times."""

    errors = 0
    error_after = 0

    async def _speak(self, request: web.Request, ws: web.WebSocketResponse, entry: VoiceRecord, text: str,
                     fmt: tuple[str, int]) -> None:
        if self.errors <= 0:
            return await super()._speak(request, ws, entry, text, fmt)
        self.errors -= 1
        for _ in range(self.error_after):
            await ws.send_str(json.dumps({"audio": base64.b64encode(b"\xff" * 800).decode(), "isFinal": None}))
        await ws.send_str(json.dumps({"message": "quota_exceeded: this request exceeds your quota",
                                      "error": "quota_exceeded", "code": 1008}))
        await ws.close(code=1008, message=b"quota_exceeded")


class TestElevenLabsVoice(StreamedVoiceContract):
    vendor = "elevenlabs"
    fake_class = ErringFake
    default_voice = "EXAVITQu4vr4xnSDxMaL"
    fake_rate = 8000

    def voice_seen(self, entry: VoiceRecord) -> str:
        return entry.path.split("/")[3]

    async def test_the_socket_carries_the_documented_messages_in_order(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(" Hello there, caller.", language="en-US")
        (entry,) = fake.requests
        assert entry.path == "/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL/stream-input"
        assert entry.query == {"model_id": "eleven_flash_v2_5", "output_format": "ulaw_8000", "language_code": "en"}
        assert entry.headers["xi-api-key"] == "test-key"
        assert entry.messages == [{"text": " "}, {"text": TEXT + " ", "flush": True}, {"text": ""}]
        assert entry.finished and not entry.closed_by_client

    async def test_an_error_message_is_retried_before_audio_and_an_error_after(
            self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            fake.errors = 1
            audio = await provider.synthesize(TEXT)
            assert len(fake.requests) == 2 and len(audio) == self.expected_samples()
            fake.errors, fake.error_after = 2, 1
            chunks = []
            with pytest.raises(TTSError, match=r"mid-sentence.*quota_exceeded"):
                async for chunk in provider.stream(TEXT):
                    chunks.append(chunk)  # noqa: PERF401  (the chunks before the error count)
        assert len(chunks) == 1 and len(fake.requests) == 3


"""The Cartesia voice against its local fake: the socket's auth and generation request, the cancel at barge-in,
error events, then the voice contract."""
from __future__ import annotations

import pytest

from flowengine.bench.fakes.cartesia_tts import FakeCartesiaTTS
from flowengine.bench.fakes.server import Faults
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.base import TTSError
from tests.providers.tts.voice_contract import TEXT, SpeechAccess, StreamedVoiceContract
from tests.support import eventually


class TestCartesiaVoice(StreamedVoiceContract):
    vendor = "cartesia"
    fake_class = FakeCartesiaTTS
    default_voice = "71a7ad14-091c-4e8e-a314-022ece01c121"
    fake_rate = 8000

    def voice_seen(self, entry: VoiceRecord) -> str:
        return str(entry.messages[0]["voice"]["id"])

    async def test_the_socket_carries_the_documented_request(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT, language="en-US")
        (entry,) = fake.requests
        assert entry.path == "/tts/websocket" and entry.query == {}
        assert entry.headers["Authorization"] == "Bearer test-key"
        assert entry.headers["cartesia-version"] == "2026-08-14"
        (request,) = entry.messages  # one generation request; no cancel after a finished sentence
        context_id = request.pop("context_id")
        assert len(context_id) == 32
        assert request == {"model_id": "sonic-3", "transcript": TEXT,
                           "voice": {"mode": "id", "id": "71a7ad14-091c-4e8e-a314-022ece01c121"},
                           "output_format": {"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000},
                           "continue": False, "language": "en"}
        assert entry.finished and not entry.closed_by_client and not entry.cancelled

    async def test_barge_in_cancels_the_context_before_closing(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=0.2)) as (fake, provider):
            stream = provider.stream(TEXT)
            await anext(stream)
            await stream.aclose()
            entry: VoiceRecord = fake.requests[-1]
            await eventually(lambda: entry.closed_by_client, 2.0, "the fake sees the client go away")
        context_id = entry.messages[0]["context_id"]
        assert entry.messages[1:] == [{"context_id": context_id, "cancel": True}]
        assert entry.cancelled and entry.chunks_sent < entry.chunks_total and entry.sent_after_close == 0

    async def test_a_refused_request_is_an_error_at_once(self, speech_access: SpeechAccess,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("flowengine.providers.tts.cartesia.MODEL", "sonic-0")  # a model nobody has
        async with self.voice(speech_access) as (fake, provider):
            with pytest.raises(TTSError, match="HTTP 400: unknown model_id 'sonic-0'"):
                await provider.synthesize(TEXT)
        assert len(fake.requests) == 1  # a 400 error event is the request's fault: no retry


def test_a_voice_id_that_is_no_uuid_is_refused_naming_it(speech_access: SpeechAccess) -> None:
    speech_access("cartesia", api_key="k")
    assert TTS.check("cartesia", voice_id="a0e99841-438c-4a64-b679-ae501e7d6091").status is Status.AVAILABLE
    answer = TTS.check("cartesia", voice_id="Barbershop Man")
    assert answer.status is Status.UNSUPPORTED and answer.setting == "voice_id" and "'Barbershop Man'" in answer.reason

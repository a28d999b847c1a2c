"""ElevenLabs Scribe realtime against its local fake: the shared stream contract, then what is ElevenLabs' own."""
from __future__ import annotations

from flowengine.bench.fakes.elevenlabs_stt import FakeElevenLabsSTT
from flowengine.providers.stt.elevenlabs import ElevenLabsSTT
from tests.providers.stt.streams import StreamContract


class TestElevenLabs(StreamContract):
    vendor = "elevenlabs"
    fake_class = FakeElevenLabsSTT
    provider_class = ElevenLabsSTT
    keyword_param = "keyterms"
    signals_end_of_speech = False  # manual commits: the engine's VAD ends turns

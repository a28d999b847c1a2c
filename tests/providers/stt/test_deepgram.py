"""Deepgram live recognition against its local fake: the shared stream contract, then what is Deepgram's own."""
from __future__ import annotations

from flowengine.bench.fakes.deepgram_stt import FakeDeepgramSTT
from flowengine.providers.stt.deepgram import DeepgramSTT
from tests.providers.stt.streams import StreamContract


class TestDeepgram(StreamContract):
    vendor = "deepgram"
    fake_class = FakeDeepgramSTT
    provider_class = DeepgramSTT
    keyword_param = "keyterm"
    signals_end_of_speech = True

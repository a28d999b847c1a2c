"""Cartesia live recognition against its local fake: the shared stream contract, then what is Cartesia's own."""
from __future__ import annotations

from flowengine.bench.fakes.cartesia_stt import FakeCartesiaSTT
from flowengine.providers.stt.cartesia import CartesiaSTT
from tests.providers.stt.streams import StreamContract


class TestCartesia(StreamContract):
    vendor = "cartesia"
    fake_class = FakeCartesiaSTT
    provider_class = CartesiaSTT
    keyword_param = "keyterm"
    signals_end_of_speech = False  # /stt/websocket has no turn signal (its finals are segments)

"""Cartesia live recognition against its local fake: the shared stream contract, then what is Cartesia's own."""
from __future__ import annotations

from flowengine.bench.fakes.cartesia_stt import FakeCartesiaSTT
from flowengine.providers.stt.cartesia import API_VERSION, CartesiaStream, CartesiaSTT
from flowengine.providers.stt.wsstream import Fault, Final
from tests.providers.stt.conftest import MakeRecogniser
from tests.providers.stt.streams import StreamContract, say, send_audio, speech


class TestCartesia(StreamContract):
    vendor = "cartesia"
    fake_class = FakeCartesiaSTT
    provider_class = CartesiaSTT
    keyword_param = "keyterm"
    signals_end_of_speech = False  # /stt/websocket has no turn signal (its finals are segments)
    refusal_keys = frozenset({"title", "message", "error_code", "status_code", "request_id"})


async def test_the_url_query_and_auth_headers(recogniser: MakeRecogniser) -> None:
    async with FakeCartesiaSTT() as fake:
        provider = recogniser(CartesiaSTT, fake)
        stream = await provider.open_stream(language="de-DE")
        await stream.aclose()
    socket = fake.requests[0]
    assert socket.path == "/stt/websocket"
    assert socket.headers["Authorization"] == "Bearer test-key"
    assert socket.headers["Cartesia-Version"] == API_VERSION
    assert socket.query == {"model": "ink-whisper", "encoding": "pcm_s16le", "sample_rate": "16000",
                            "language": "de"}


async def test_segment_deltas_join_into_the_turn_and_commands_are_plain_text(
        recogniser: MakeRecogniser) -> None:
    async with FakeCartesiaSTT(script=["I want", "a refund please"]) as fake:
        provider = recogniser(CartesiaSTT, fake)
        stream = await provider.open_stream()
        await say(stream)  # the vendor's silence detection gives the first segment
        await send_audio(stream, speech(0.4))  # the caller goes on; finalize flushes the rest
        assert (await stream.finalize()).text == "I want a refund please"
        await stream.aclose()
    texts = [m for m in fake.requests[0].messages if isinstance(m, str)]
    assert texts == ["finalize", "close"]


def test_error_objects_become_faults() -> None:
    stream = CartesiaStream(None, "ws://unused", {})  # type: ignore[arg-type]
    assert stream.parse('{"type": "error", "status_code": 401, "message": "Invalid API key", "request_id": "r"}') == [
        Fault("refused the API key (401): Invalid API key")]
    assert stream.parse('{"type": "error", "status_code": 503, "message": "busy", "request_id": "r"}') == [
        Fault("busy", retry=True)]
    assert stream.parse('{"type": "transcript", "is_final": true, "text": " there", "request_id": "r"}') == [
        Final(" there")]

"""Deepgram live recognition against its local fake: the shared stream contract, then what is Deepgram's own."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from flowengine.bench.fakes.deepgram_stt import FakeDeepgramSTT
from flowengine.bench.fakes.server import Faults
from flowengine.providers.stt.base import STTError
from flowengine.providers.stt.deepgram import DeepgramStream, DeepgramSTT
from tests.providers.stt.conftest import MakeRecogniser
from tests.providers.stt.streams import StreamContract, say, speech
from tests.support import eventually


class TestDeepgram(StreamContract):
    vendor = "deepgram"
    fake_class = FakeDeepgramSTT
    provider_class = DeepgramSTT
    keyword_param = "keyterm"
    signals_end_of_speech = True
    refusal_keys = frozenset({"err_code", "err_msg", "request_id"})


async def test_the_url_query_and_auth_header(recogniser: MakeRecogniser) -> None:
    async with FakeDeepgramSTT() as fake:
        provider = recogniser(DeepgramSTT, fake)
        stream = await provider.open_stream(language="en-US")
        await stream.aclose()
    socket = fake.requests[0]
    assert socket.path == "/v1/listen"
    assert socket.headers["Authorization"] == "Token test-key"
    assert socket.query == {"model": "nova-3", "encoding": "linear16", "sample_rate": "16000", "channels": "1",
                            "interim_results": "true", "endpointing": "300", "utterance_end_ms": "1000",
                            "vad_events": "true", "smart_format": "true", "language": "en-US"}


async def test_a_telephony_model_boosts_keywords(recogniser: MakeRecogniser) -> None:
    async with FakeDeepgramSTT() as fake:
        provider = recogniser(DeepgramSTT, fake, model="nova-2-phonecall")
        stream = await provider.open_stream(keywords=("VoIPBIN",))
        await stream.aclose()
    assert fake.requests[0].query["model"] == "nova-2-phonecall"
    assert fake.requests[0].query["keywords"] == "VoIPBIN"
    assert "keyterm" not in fake.requests[0].query


async def test_commands_finalize_keepalive_and_closestream(recogniser: MakeRecogniser) -> None:
    async with FakeDeepgramSTT(script=["hello there"]) as fake:
        provider = recogniser(DeepgramSTT, fake)
        stream = await provider.open_stream()
        stream.keepalive_s = 0.1
        await eventually(lambda: {"type": "KeepAlive"} in fake.requests[0].messages, 5, "a KeepAlive")
        await say(stream)
        assert (await stream.finalize()).text == "hello there"
        await stream.aclose()
        messages = [m for m in fake.requests[0].messages if isinstance(m, dict) and m["type"] != "KeepAlive"]
        assert messages[-2:] == [{"type": "Finalize"}, {"type": "CloseStream"}]
        assert all(isinstance(m, bytes) and len(m) == 640 for m in fake.requests[0].messages if not isinstance(m, dict))


async def test_a_finalize_deepgram_leaves_unanswered_is_settled_by_the_final_results(
        recogniser: MakeRecogniser) -> None:
    """Nothing buffered after speech_final: Deepgram may not answer Finalize; the turn still ends at once."""
    async with FakeDeepgramSTT(script=["just this", "and then"]) as fake:
        provider = recogniser(DeepgramSTT, fake, finalize_timeout_s=3.0)
        stream = await provider.open_stream()
        ended = asyncio.Event()
        stream.on_end_of_speech = lambda _text: ended.set()
        await say(stream, silence_s=0.3)  # exactly the endpointing: the final result covers every frame sent
        await asyncio.wait_for(ended.wait(), 5)
        result = await stream.finalize()
        assert result.text == "just this"
        assert result.compute_ms < 1000
        assert fake.unanswered_finalizes == 1
        await say(stream)
        assert (await stream.finalize()).text == "and then"
        await stream.aclose()


async def test_a_turn_deepgram_already_ended_is_final_without_waiting_for_an_unanswered_finalize(
        recogniser: MakeRecogniser) -> None:
    """speech_final came and its finals cover the turn: the grace for an unanswered Finalize is not waited out
    (the bench measured it: 300 ms on every turn the recogniser ended)."""
    async with FakeDeepgramSTT(script=["what time do you open"]) as fake:
        provider = recogniser(DeepgramSTT, fake, finalize_timeout_s=30.0)
        stream = await provider.open_stream()
        stream.unanswered_flush_grace_s = 20.0  # were it waited out, the test would time out below
        ended = asyncio.Event()
        stream.on_end_of_speech = lambda _text: ended.set()
        await say(stream, silence_s=0.3)
        await asyncio.wait_for(ended.wait(), 5)
        result = await asyncio.wait_for(stream.finalize(), 5)
        assert result.text == "what time do you open" and fake.unanswered_finalizes == 1
        await stream.aclose()


async def test_undecodable_audio_closed_with_data_0000_is_an_error_without_retry(
        recogniser: MakeRecogniser) -> None:
    class OddBytes(DeepgramStream):
        def encode(self, pcm: np.ndarray) -> bytes:
            return b"\x01"

    async with FakeDeepgramSTT() as fake:
        provider = recogniser(DeepgramSTT, fake)
        stream = OddBytes(provider.http, fake.ws_url + "/v1/listen", {"Authorization": "Token test-key"})
        await stream.start()
        await stream.send(speech(0.02))
        with pytest.raises(STTError, match="DATA-0000"):
            await stream.finalize()
        assert len(fake.requests) == 1
        await stream.aclose()


async def test_end_of_speech_is_signalled_once_when_a_new_socket_replays_the_turn(
        recogniser: MakeRecogniser) -> None:
    # the fake sends SpeechStarted, 8 interims, the speech_final result and UtteranceEnd, then drops the socket
    async with FakeDeepgramSTT(script=["once only"], faults=Faults(drop_after=11)) as fake:
        provider = recogniser(DeepgramSTT, fake)
        stream = await provider.open_stream()
        ended: list[str] = []
        stream.on_end_of_speech = ended.append
        await say(stream, silence_s=0.3)
        await eventually(lambda: len(fake.requests) == 2, 5, "the reconnect")
        assert ended == ["once only"]
        assert (await stream.finalize()).text == "once only"
        assert ended == ["once only"]
        assert fake.requests[1].audio_bytes == fake.requests[0].audio_bytes == round(0.9 * 16000) * 2
        await stream.aclose()

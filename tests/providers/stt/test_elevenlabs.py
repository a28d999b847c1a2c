"""ElevenLabs Scribe realtime against its local fake: the shared stream contract, then what is ElevenLabs' own."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from flowengine.bench.fakes.elevenlabs_stt import FakeElevenLabsSTT
from flowengine.bench.fakes.server import Faults
from flowengine.providers.stt.base import STTError
from flowengine.providers.stt.elevenlabs import ElevenLabsStream, ElevenLabsSTT
from flowengine.providers.stt.wsstream import Fault
from tests.providers.stt.conftest import MakeRecogniser
from tests.providers.stt.streams import StreamContract, say, send_audio, speech


class TestElevenLabs(StreamContract):
    vendor = "elevenlabs"
    fake_class = FakeElevenLabsSTT
    provider_class = ElevenLabsSTT
    keyword_param = "keyterms"
    signals_end_of_speech = False  # manual commits: the engine's VAD ends turns
    refusal_keys = frozenset({"detail"})


async def test_the_url_query_and_auth_header(recogniser: MakeRecogniser) -> None:
    async with FakeElevenLabsSTT() as fake:
        provider = recogniser(ElevenLabsSTT, fake)
        stream = await provider.open_stream(language="en-GB")
        await stream.aclose()
    socket = fake.requests[0]
    assert socket.path == "/v1/speech-to-text/realtime"
    assert socket.headers["xi-api-key"] == "test-key"
    assert socket.query == {"model_id": "scribe_v2_realtime", "audio_format": "pcm_16000",
                            "commit_strategy": "manual", "language_code": "en"}


async def test_audio_goes_as_base64_chunks_and_finalize_commits(recogniser: MakeRecogniser) -> None:
    async with FakeElevenLabsSTT(script=["yes"]) as fake:
        provider = recogniser(ElevenLabsSTT, fake)
        stream = await provider.open_stream()
        pcm = speech(0.04)
        await send_audio(stream, pcm)
        assert (await stream.finalize()).text == "yes"
        await stream.aclose()
    chunks = fake.requests[0].messages
    first = chunks[0]
    assert first == {"message_type": "input_audio_chunk", "commit": False, "sample_rate": 16000,
                     "audio_base_64": base64.b64encode(pcm[:320].astype("<i2").tobytes()).decode()}
    assert chunks[-1] == {"message_type": "input_audio_chunk", "audio_base_64": "", "commit": True,
                          "sample_rate": 16000}
    # a turn shorter than the vendor's 0.3 s commit minimum is padded with silence, not refused
    assert fake.requests[0].audio_bytes == round(0.3 * 16000) * 2
    padding = np.frombuffer(base64.b64decode(chunks[-2]["audio_base_64"]), dtype="<i2")
    assert padding.size == round(0.26 * 16000) and not padding.any()


async def test_a_commit_left_unanswered_is_retried_on_a_new_socket_then_an_error(
        recogniser: MakeRecogniser) -> None:
    async with FakeElevenLabsSTT(script=["slow"], faults=Faults(latency_s=0.4)) as fake:
        provider = recogniser(ElevenLabsSTT, fake, finalize_timeout_s=0.2)
        stream = await provider.open_stream()
        await say(stream)
        with pytest.raises(STTError, match=r"no final result within 0\.2 s"):
            await stream.finalize()
        assert len(fake.requests) == 2
        assert fake.requests[1].audio_bytes >= fake.requests[0].audio_bytes > 0
        await stream.aclose()


async def test_a_vendor_error_message_is_an_stt_error(recogniser: MakeRecogniser) -> None:
    class Unpadded(ElevenLabsStream):
        min_flush_audio_s = 0.0

    async with FakeElevenLabsSTT(script=["too short"]) as fake:
        provider = recogniser(ElevenLabsSTT, fake)
        stream = Unpadded(provider.http, fake.ws_url + FakeElevenLabsSTT.path, {"xi-api-key": fake.api_key})
        await stream.start()
        await send_audio(stream, speech(0.1))
        with pytest.raises(STTError, match="elevenlabs: refused the commit: Commit request ignored"):
            await stream.finalize()
        assert len(fake.requests) == 1  # not retried
        await stream.aclose()


def test_the_error_types_that_deserve_a_new_socket() -> None:
    stream = ElevenLabsStream(None, "ws://unused", {})  # type: ignore[arg-type]
    assert stream.parse('{"message_type": "auth_error", "error": "bad token"}') == [
        Fault("refused the API key: bad token")]
    assert stream.parse('{"message_type": "session_time_limit_exceeded", "error": "limit"}') == [
        Fault("session_time_limit_exceeded: limit", retry=True)]
    assert stream.parse('{"message_type": "session_started", "session_id": "s", "config": {}}') == []

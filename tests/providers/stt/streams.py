"""What every WebSocket recogniser must do against its fake: `StreamContract` is subclassed by each vendor's test
module (the vendor, its fake, its provider and its keyword parameter)."""
from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp
import numpy as np
import pytest

from flowengine.bench.fakes.server import Faults, tone
from flowengine.bench.fakes.sttsocket import FakeSTTSocket
from flowengine.providers import credentials
from flowengine.providers.catalogue import STT, Status
from flowengine.providers.stt.base import STTError
from flowengine.providers.stt.wsstream import WSRecogniser, WSStream
from tests.providers.stt.conftest import MakeRecogniser
from tests.support import eventually

FRAME = 320  # 20 ms at 16 kHz
SPEECH_S = 0.6
SILENCE_S = 0.4  # more than the fakes' 300 ms endpointing
TURN_BYTES = round((SPEECH_S + SILENCE_S) * 16000) * 2


def speech(seconds: float = SPEECH_S) -> np.ndarray:
    return tone(seconds, 16000)


def silence(seconds: float = SILENCE_S) -> np.ndarray:
    return np.zeros(round(seconds * 16000), dtype=np.int16)


async def send_audio(stream: WSStream, pcm: np.ndarray) -> None:
    for start in range(0, pcm.size, FRAME):
        await stream.send(pcm[start:start + FRAME])


async def say(stream: WSStream, speech_s: float = SPEECH_S, silence_s: float = SILENCE_S) -> None:
    """One caller turn as the engine sends it: speech, then the silence until its own endpointing."""
    await send_audio(stream, speech(speech_s))
    await send_audio(stream, silence(silence_s))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamContract:
    """The shared tests; subclasses set the class attributes."""

    vendor: ClassVar[str]
    fake_class: ClassVar[type[FakeSTTSocket]]
    provider_class: ClassVar[type[WSRecogniser]]
    keyword_param: ClassVar[str]
    signals_end_of_speech: ClassVar[bool]  # the vendor's own end-of-speech reaches on_end_of_speech
    refusal_keys: ClassVar[frozenset[str]]  # the vendor's error body when it refuses a key

    def fake(self, *lines: str, faults: Faults | None = None, **options: Any) -> FakeSTTSocket:
        return self.fake_class(script=lines, faults=faults, **options)

    def provider(self, recogniser: MakeRecogniser, fake: FakeSTTSocket, **settings: Any) -> WSRecogniser:
        return recogniser(self.provider_class, fake, **settings)

    async def test_speech_then_silence_gives_interim_end_of_speech_and_the_line(
            self, recogniser: MakeRecogniser) -> None:
        async with self.fake("book a table for two") as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream(language="en-US")
            ended: list[str] = []
            stream.on_end_of_speech = ended.append
            interims: list[str] = []
            await send_audio(stream, speech())
            await eventually(lambda: stream.interim != "", 5, "an interim result")
            interims.append(stream.interim)
            await send_audio(stream, silence())
            if self.signals_end_of_speech:
                await eventually(lambda: bool(ended), 5, "the end-of-speech callback")
                assert ended == ["book a table for two"]  # once, though the vendor may signal it twice
            result = await stream.finalize()
            assert result.text == "book a table for two"
            assert result.audio_ms == round((SPEECH_S + SILENCE_S) * 1000)
            assert "book a table for two".startswith(interims[0])
            assert stream.sent_ms == result.audio_ms
            assert not self.signals_end_of_speech or ended == ["book a table for two"]
            await stream.aclose()

    async def test_two_turns_on_one_stream_give_two_lines(self, recogniser: MakeRecogniser) -> None:
        async with self.fake("first line", "second line") as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            await say(stream)
            assert (await stream.finalize()).text == "first line"
            await send_audio(stream, speech(0.5))  # ended by the engine's VAD before the vendor's endpointing
            assert (await stream.finalize()).text == "second line"
            assert (await stream.finalize()).text == ""  # nothing sent since
            assert len(fake.requests) == 1
            await stream.aclose()

    async def test_keywords_reach_the_query(self, recogniser: MakeRecogniser) -> None:
        async with self.fake() as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream(keywords=("Flowengine", "VoIPBIN"))
            await stream.aclose()
        assert fake.requests[0].query[self.keyword_param] == "Flowengine"
        assert self.keyword_param in fake.requests[0].query

    async def test_a_refused_key_is_an_error_naming_the_key_without_retry(
            self, recogniser: MakeRecogniser) -> None:
        async with self.fake() as fake:
            provider = self.provider(recogniser, fake, api_key="wrong-key")
            with pytest.raises(STTError, match="refused the API key") as caught:
                await provider.open_stream()
            assert "wrong-key" not in str(caught.value)
            assert len(fake.requests) == 1

    async def test_the_fake_refuses_a_bad_key_with_the_vendors_error_body(self) -> None:
        async with self.fake() as fake, aiohttp.ClientSession() as http, \
                http.get(fake.base_url + fake.path, headers={"Authorization": "Token nope"}) as answer:
            assert answer.status == 401
            assert set(await answer.json()) == self.refusal_keys

    async def test_a_socket_dropped_mid_turn_is_replayed_on_a_new_one(
            self, recogniser: MakeRecogniser) -> None:
        async with self.fake("still heard", faults=Faults(drop_after=2)) as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            await say(stream)
            result = await stream.finalize()
            assert result.text == "still heard"
            assert len(fake.requests) == 2
            assert 0 < fake.requests[0].audio_bytes < TURN_BYTES  # dropped mid-turn
            assert fake.requests[1].audio_bytes >= TURN_BYTES  # the whole turn, replayed then continued
            await stream.aclose()

    async def test_a_second_drop_in_the_turn_is_an_error(self, recogniser: MakeRecogniser) -> None:
        async with self.fake("lost", faults=Faults(drop_after=2, drop_times=2)) as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            with pytest.raises(STTError, match="again after a reconnect"):
                await say(stream)
                await stream.finalize()
            assert len(fake.requests) == 2
            await stream.aclose()

    async def test_garbage_from_the_vendor_is_an_error(self, recogniser: MakeRecogniser) -> None:
        async with self.fake("x", faults=Faults(garbage=True)) as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            with pytest.raises(STTError, match="outside its protocol"):
                await say(stream)
                await stream.finalize()
            await stream.aclose()

    async def test_aclose_closes_the_socket_at_once(self, recogniser: MakeRecogniser) -> None:
        async with self.fake("never finished") as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            await send_audio(stream, speech())
            started = time.monotonic()
            await stream.aclose()
            assert time.monotonic() - started < 1.0
            await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client go")
            with pytest.raises(STTError, match="closed"):
                await stream.send(speech(0.02))

    async def test_an_answer_of_5xx_at_the_upgrade_is_retried_once(self, recogniser: MakeRecogniser) -> None:
        async with self.fake("after a retry", faults=Faults(status=503, status_times=1)) as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            await say(stream)
            assert (await stream.finalize()).text == "after a retry"
            assert len(fake.requests) == 2
            await stream.aclose()

    async def test_an_unreachable_vendor_is_an_error_after_one_retry(
            self, recogniser: MakeRecogniser) -> None:
        provider = recogniser(self.provider_class, base_url=f"http://127.0.0.1:{closed_port()}")
        with pytest.raises(STTError, match=r"could not be reached.*again after a reconnect"):
            await provider.open_stream()

    async def test_transcribe_runs_one_stream(self, recogniser: MakeRecogniser) -> None:
        async with self.fake("a whole utterance") as fake:
            provider = self.provider(recogniser, fake)
            assert provider.streaming
            pcm = np.concatenate([speech(), silence()])
            assert (await provider.transcribe(pcm)).text == "a whole utterance"
            await eventually(lambda: fake.requests[0].closed_at > 0, 5, "the stream closed")

    async def test_a_stream_between_turns_reconnects_when_the_vendor_closed_it_idle(
            self, recogniser: MakeRecogniser) -> None:
        async with self.fake("before", "after", idle_limit_s=0.3) as fake:
            provider = self.provider(recogniser, fake)
            stream = await provider.open_stream()
            stream.keepalive_s = 0.0  # let the vendor's idle limit close it
            await say(stream)
            assert (await stream.finalize()).text == "before"
            await eventually(lambda: fake.requests[0].closed_at > 0, 5, "the idle close")
            await say(stream)
            assert (await stream.finalize()).text == "after"
            assert len(fake.requests) == 2
            await stream.aclose()

    async def test_the_catalogue_needs_a_key(self, speech_access: Callable[..., None],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        for name in credentials.ENVIRONMENT[self.vendor].api_key:
            monkeypatch.delenv(name, raising=False)
        assert STT.check(self.vendor).status is Status.NEEDS_SETUP
        assert f"speech.providers.{self.vendor}.api_key" in STT.check(self.vendor).reason
        speech_access(self.vendor, api_key="some-key")
        assert STT.check(self.vendor).status is Status.AVAILABLE


"""What every HTTP recogniser (a turn sent as one request, answered once) must do against its fake: the line of a
turn and nothing for silence, a bad key refused without a retry, a 5xx or 429 retried with the whole turn, a
second failure, a hung or unreachable vendor, garbage, a cancelled finalize, the catalogue. A test module
subclasses HttpRecogniserContract for its vendor (as `Test<Vendor>Recognition`) and adds its own wire checks."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import numpy as np
import pytest

from flowengine.bench.fakes.server import FakeServer, Faults, Recorded, tone
from flowengine.providers.catalogue import STT, Status
from flowengine.providers.stt.base import STTError, STTProvider, STTStream
from tests.providers.setup_check import assert_asks_for_each_credential, forget_the_environment
from tests.support import eventually

FRAME = 320  # 20 ms at 16 kHz
SCRIPT = ("I need a cleaning.", "Tuesday at ten.")
WRONG_KEY = "sk-wrong-0123456789abcdef"
SpeechAccess = Callable[..., None]


def turn(speech_s: float = 0.6, silence_s: float = 0.4) -> np.ndarray:
    return np.concatenate([tone(speech_s, 16000), np.zeros(int(silence_s * 16000), dtype=np.int16)])


async def speak(stream: STTStream, pcm: np.ndarray) -> None:
    for start in range(0, pcm.size, FRAME):
        await stream.send(pcm[start:start + FRAME])


class HttpRecogniserContract:
    vendor: ClassVar[str]
    fake_class: ClassVar[type[FakeServer]]
    access_fields: ClassVar[dict[str, str]] = {}  # what the vendor needs besides the key (Azure's region)
    # what the vendor's error says, beyond the base's words
    refused_key_error: ClassVar[str] = r"refused the API key.*HTTP 401"
    server_error: ClassVar[str] = r"after 2 attempts.*HTTP 500"
    unreachable_error: ClassVar[str] = "after 2 attempts"
    garbage_error: ClassVar[str]
    hang_error: ClassVar[str] = r"after 2 attempts.*Timeout"
    timeout_setting: ClassVar[str] = "flowengine.providers.cloud.READ_TIMEOUT_S"  # its read timeout, shortened

    def turn_bytes(self, entry: Recorded) -> int:
        """The bytes of audio the fake received in this request."""
        raise NotImplementedError

    def base_url_at(self, server: str) -> str:
        """The base URL that points the provider at `server` (OpenAI's includes the API's /v1)."""
        return server

    @asynccontextmanager
    async def recogniser(self, speech_access: SpeechAccess, faults: Faults | None = None, api_key: str = "test-key",
                         base_url: str = "", **settings: Any) -> AsyncIterator[tuple[Any, STTProvider]]:
        async with self.fake_class(script=SCRIPT, faults=faults) as fake:  # type: ignore[call-arg]
            speech_access(self.vendor, api_key=api_key, base_url=base_url or self.base_url_at(fake.base_url),
                          **self.access_fields)
            provider = STT.create(self.vendor, **settings)
            try:
                yield fake, provider
            finally:
                await provider.aclose()

    async def test_a_turn_is_its_line_and_silence_is_nothing(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access) as (fake, provider):
            assert provider.streaming
            assert (await provider.transcribe(np.zeros(16000, dtype=np.int16))).text == ""  # silence heard as nothing
            assert (await provider.transcribe(turn())).text == SCRIPT[0]
        assert len(fake.requests) == 2

    async def test_a_bad_key_is_refused_at_once_without_a_retry(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, api_key=WRONG_KEY) as (fake, provider):
            with pytest.raises(STTError, match=self.refused_key_error) as caught:
                await provider.transcribe(turn())
        assert "sk-wrong" not in str(caught.value) and "abcdef" not in str(caught.value)
        assert len(fake.requests) == 1

    @pytest.mark.parametrize("status", [503, 429])
    async def test_a_5xx_or_429_once_is_retried_with_the_whole_turn(
            self, speech_access: SpeechAccess, status: int) -> None:
        pcm = turn()
        async with self.recogniser(speech_access, Faults(status=status, status_times=1)) as (fake, provider):
            assert (await provider.transcribe(pcm)).text == SCRIPT[0]
        assert len(fake.requests) == 2 and self.turn_bytes(fake.requests[1]) == pcm.size * 2

    async def test_a_5xx_twice_is_an_error(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, Faults(status=500, status_times=2)) as (fake, provider):
            with pytest.raises(STTError, match=self.server_error):
                await provider.transcribe(turn())
        assert len(fake.requests) == 2

    async def test_a_server_that_never_answers_is_retried_once_then_an_error(
            self, speech_access: SpeechAccess, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(self.timeout_setting, 0.3)  # before the provider is made
        async with self.recogniser(speech_access, Faults(hang=True)) as (fake, provider):
            with pytest.raises(STTError, match=self.hang_error):
                await provider.transcribe(turn())
        assert len(fake.requests) == 2

    async def test_connection_refused_is_an_error(self, speech_access: SpeechAccess) -> None:
        with socket.socket() as closed:  # a port nobody listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        async with self.recogniser(speech_access, base_url=self.base_url_at(f"http://127.0.0.1:{port}")) as (
                _, provider):
            with pytest.raises(STTError, match=self.unreachable_error):
                await provider.transcribe(turn())

    async def test_a_garbage_answer_is_an_error(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, Faults(garbage=True)) as (fake, provider):
            with pytest.raises(STTError, match=self.garbage_error):
                await provider.transcribe(turn())
        assert len(fake.requests) == 1

    async def test_cancelling_finalize_closes_the_request(self, speech_access: SpeechAccess) -> None:
        async with self.recogniser(speech_access, Faults(latency_s=30)) as (fake, provider):  # the answer: much later
            stream = await provider.open_stream()
            await speak(stream, turn())
            task = asyncio.create_task(stream.finalize())
            await eventually(lambda: bool(fake.requests), 5, "the request")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await eventually(lambda: fake.requests[0].closed_by_client, 5, "the fake to see the client leave")
            await stream.aclose()
            with pytest.raises(STTError, match="closed"):
                await stream.send(turn())
        assert len(fake.requests) == 1

    def test_the_catalogue_needs_every_credential(self, speech_access: SpeechAccess,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        names = forget_the_environment(self.vendor, monkeypatch)
        speech_access(self.vendor)
        answer = STT.check(self.vendor)
        assert answer.status is Status.NEEDS_SETUP
        assert_asks_for_each_credential(self.vendor, answer.reason)
        everything = {"api_key": "k", **self.access_fields}
        for field in names.needs:  # any one missing is not enough
            speech_access(self.vendor, **{k: v for k, v in everything.items() if k != field})
            assert STT.check(self.vendor).status is Status.NEEDS_SETUP
        speech_access(self.vendor, **everything)
        assert STT.check(self.vendor).available

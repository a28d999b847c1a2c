"""What every streaming cloud voice must do against its local fake: audio chunk by chunk while the vendor is still
speaking, the right length, the default voice, barge-in, and each fault ending the way the base promises. A test
module subclasses VoiceContract for its vendor (as `Test<Vendor>Voice`) and adds the vendor's own wire checks."""
from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import numpy as np
import pytest

from flowengine.bench.fakes.server import FakeServer, Faults, loud, speech_seconds
from flowengine.bench.fakes.voice import VoiceRecord
from flowengine.providers.catalogue import TTS, Status
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError
from flowengine.providers.tts.cloud import CloudTTS
from tests.providers.setup_check import assert_asks_for_each_credential, forget_the_environment
from tests.support import eventually

TEXT = "Hello there, caller."  # 1.33 s of fake speech: 6 chunks of 0.25 s
SpeechAccess = Callable[..., None]


class VoiceContract:
    vendor: ClassVar[str]
    fake_class: ClassVar[type[FakeServer]]
    default_voice: ClassVar[str]
    fake_rate: ClassVar[int]  # the rate the fake answers at for this provider's request
    access_fields: ClassVar[dict[str, str]] = {}  # what the vendor needs besides the key (PlayHT's account)
    fake_kwargs: ClassVar[dict[str, str]] = {}  # what the fake checks besides the key (AWS's secret and region)
    other_voice: ClassVar[str] = "another-voice"  # a voice the vendor's fake knows besides the default
    # what the vendor's error says, beyond the base's words (vendors set their own status and error body)
    refused_key_error: ClassVar[str] = "API key"
    server_error: ClassVar[str] = "after 2 attempts"
    unreachable_error: ClassVar[str] = "after 2 attempts"
    garbage_error: ClassVar[str] = r"not (its protocol|audio)"
    garbage_attempts: ClassVar[int] = 2  # 1 where the answer is refused as not audio before any is read
    hang_error: ClassVar[str] = "after 2 attempts"

    def voice_seen(self, entry: VoiceRecord) -> str:
        """The voice the fake was asked for in this request/socket."""
        raise NotImplementedError

    # where the provider's read timeout is a module setting (read when its client or session is made), its dotted
    # name; "" when the provider has its own `read_timeout_s`
    timeout_setting: ClassVar[str] = ""

    @asynccontextmanager
    async def voice(self, speech_access: SpeechAccess, faults: Faults | None = None,
                    api_key: str = "test-key", base_url: str = "") -> AsyncIterator[tuple[Any, CloudTTS]]:
        async with self.fake_class(faults=faults, **self.fake_kwargs) as fake:
            speech_access(self.vendor, api_key=api_key, base_url=base_url or self.base_url_at(fake.base_url),
                          **self.access_fields)
            provider = TTS_PROVIDERS.create(self.vendor)
            assert isinstance(provider, CloudTTS)
            try:
                yield fake, provider
            finally:
                await provider.aclose()

    def base_url_at(self, server: str) -> str:
        """The base URL that points the provider at `server` (OpenAI's includes the API's /v1)."""
        return server

    def expected_samples(self, text: str = TEXT) -> int:
        return int(speech_seconds(text) * self.fake_rate)

    async def test_the_default_voice_speaks_when_no_voice_is_asked(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access) as (fake, provider):
            await provider.synthesize(TEXT, voice_id="")
            await provider.synthesize(TEXT, voice_id=self.other_voice)
        assert provider.default_voice == self.default_voice
        assert [self.voice_seen(e) for e in fake.requests] == [self.default_voice, self.other_voice]

    async def test_the_vendors_latency_delays_the_first_chunk_only(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(latency_s=0.3)) as (_, provider):
            started = asyncio.get_running_loop().time()
            stream = provider.stream(TEXT)
            first = await anext(stream)
            waited = asyncio.get_running_loop().time() - started
            rest = [chunk async for chunk in stream]
        assert waited >= 0.3 and len(first) + sum(len(c) for c in rest) == self.expected_samples()

    async def test_a_bad_key_is_refused_at_once_without_a_retry(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, api_key="wrong-key") as (fake, provider):
            with pytest.raises(TTSError, match=self.refused_key_error) as caught:
                await provider.synthesize(TEXT)
        assert len(fake.requests) == 1
        assert "wrong-key" not in str(caught.value) and "test-key" not in str(caught.value)

    async def test_a_server_error_once_is_retried(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(status=503, status_times=1)) as (fake, provider):
            audio = await provider.synthesize(TEXT)
        assert len(fake.requests) == 2 and len(audio) == self.expected_samples()

    async def test_a_server_error_twice_is_an_error(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(status=500)) as (fake, provider):
            with pytest.raises(TTSError, match=self.server_error):
                await provider.synthesize(TEXT)
        assert len(fake.requests) == 2

    async def test_connection_refused_is_retried_then_an_error(self, speech_access: SpeechAccess) -> None:
        with socket.socket() as closed:  # a port nobody listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        async with self.voice(speech_access, base_url=self.base_url_at(f"http://127.0.0.1:{port}")) as (_, provider):
            with pytest.raises(TTSError, match=self.unreachable_error):
                await provider.synthesize(TEXT)

    async def test_a_drop_before_any_audio_is_retried(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(drop_after=0, drop_times=1)) as (fake, provider):
            audio = await provider.synthesize(TEXT)
        assert len(fake.requests) == 2 and len(audio) == self.expected_samples()

    async def test_garbage_is_an_error(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(garbage=True)) as (fake, provider):
            with pytest.raises(TTSError, match=self.garbage_error):
                await provider.synthesize(TEXT)
        assert len(fake.requests) == self.garbage_attempts

    async def test_a_hung_vendor_times_out_and_is_retried(
            self, speech_access: SpeechAccess, monkeypatch: pytest.MonkeyPatch) -> None:
        if self.timeout_setting:
            monkeypatch.setattr(self.timeout_setting, 0.3)  # before the provider is made
        async with self.voice(speech_access, Faults(hang=True)) as (fake, provider):
            if not self.timeout_setting:
                assert hasattr(provider, "read_timeout_s")
                provider.read_timeout_s = 0.3
            with pytest.raises(TTSError, match=self.hang_error):
                await provider.synthesize(TEXT)
        assert len(fake.requests) == 2

    async def test_the_catalogue_needs_the_key_then_offers_the_voice(
            self, speech_access: SpeechAccess, monkeypatch: pytest.MonkeyPatch) -> None:
        forget_the_environment(self.vendor, monkeypatch)
        speech_access(self.vendor)
        answer = TTS.check(self.vendor)
        assert answer.status is Status.NEEDS_SETUP
        assert_asks_for_each_credential(self.vendor, answer.reason)
        speech_access(self.vendor, api_key="k", **self.access_fields)
        assert TTS.check(self.vendor).status is Status.AVAILABLE
        assert TTS.check(self.vendor, voice_id=self.default_voice).status is Status.AVAILABLE


class StreamedVoiceContract(VoiceContract):
    """What a voice that streams its answer must do besides: audio before the sentence ends, a barge-in or a
    cancel closing the vendor's stream mid-sentence, no retry once audio was played. (Google's answer is one
    JSON document: its own tests say what it does instead.)"""

    async def test_audio_arrives_chunk_by_chunk_while_the_vendor_still_speaks(
            self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=0.1)) as (fake, provider):
            chunks = []
            async for chunk in provider.stream(TEXT):
                if not chunks:
                    entry = fake.requests[-1]
                    assert not entry.finished and entry.chunks_sent < entry.chunks_total, \
                        "the first chunk must be in hand while the fake is still pacing the rest"
                chunks.append(chunk)
            audio = np.concatenate(chunks)
        assert len(chunks) >= 4 and entry.finished and entry.chunks_sent == entry.chunks_total
        assert audio.dtype == np.int16 and provider.sample_rate == self.fake_rate
        assert len(audio) == self.expected_samples()  # exactly as long as the speech at the declared rate
        assert loud(audio)

    async def test_barge_in_closes_the_vendor_stream_at_once(self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=0.2)) as (fake, provider):
            stream = provider.stream(TEXT)
            first = await anext(stream)
            closed_at = asyncio.get_running_loop().time()
            await stream.aclose()
            entry: VoiceRecord = fake.requests[-1]
            await eventually(lambda: entry.closed_by_client, 2.0, "the fake sees the client go away")
            sent = entry.chunks_sent
        assert first.size and len(fake.requests) == 1
        assert entry.closed_at - closed_at < 0.5, "the vendor must see the barge-in promptly"
        assert not entry.finished and sent < entry.chunks_total and entry.sent_after_close == 0
        assert entry.chunks_sent == sent  # nothing more went out while the fake shut down

    async def test_cancelling_the_speaking_task_closes_the_vendor_stream_at_once(
            self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(chunk_delay_s=0.2)) as (fake, provider):
            first = asyncio.Event()

            async def speak() -> None:
                async for _ in provider.stream(TEXT):
                    first.set()

            task = asyncio.create_task(speak())
            await first.wait()
            cancelled_at = asyncio.get_running_loop().time()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            entry: VoiceRecord = fake.requests[-1]
            await eventually(lambda: entry.closed_by_client, 2.0, "the fake sees the client go away")
        assert entry.closed_at - cancelled_at < 0.5 and len(fake.requests) == 1
        assert not entry.finished and entry.chunks_sent < entry.chunks_total and entry.sent_after_close == 0

    async def test_a_drop_after_audio_was_played_is_an_error_without_a_retry(
            self, speech_access: SpeechAccess) -> None:
        async with self.voice(speech_access, Faults(drop_after=1)) as (fake, provider):
            chunks = []
            with pytest.raises(TTSError, match="mid-sentence"):
                async for chunk in provider.stream(TEXT):
                    chunks.append(chunk)  # noqa: PERF401  (the chunks before the error count)
        assert len(chunks) == 1 and len(fake.requests) == 1  # a retry would repeat what the caller heard

"""MediaSession over loopback: a fake Asterisk socket sends RTP and receives the paced output."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Hashable

import numpy as np
import pytest

from flowengine.media.clock import MediaClock
from flowengine.media.codecs import get_codec
from flowengine.media.frames import AudioFrame, MediaInbox
from flowengine.media.inbound import SSRC_PROBATION
from flowengine.media.rtp import RtpPacket
from flowengine.media.session import MediaSession
from flowengine.media.vad import SpeechEnded, SpeechStarted, VadConfig, VadEvent

from .conftest import dominant_frequency, tone


class FakeAsterisk(asyncio.DatagramProtocol):
    """The UnicastRTP side of an externalMedia channel."""

    def __init__(self) -> None:
        self.received: list[RtpPacket] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.append(RtpPacket.parse(data))
        self.arrived.set()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def stream(self, payloads: list[bytes], port: int, *, payload_type: int = 0, spacing: float = 0.002) -> None:
        assert self.transport is not None
        samples = 160 if payload_type != 118 else 320
        for i, payload in enumerate(payloads):
            packet = RtpPacket(payload_type=payload_type, marker=int(i == 0), sequence_number=(65500 + i) & 0xFFFF, timestamp=i * samples, ssrc=0x5E7C21A9, payload=payload)
            self.transport.sendto(packet.serialize(), ("127.0.0.1", port))
            await asyncio.sleep(spacing)


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(FakeAsterisk, local_addr=("127.0.0.1", 0))
    yield protocol
    transport.close()


def frames_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data) - size + 1, size)]


class Ticks:
    """A media clock for one test that tells waiters when something may have changed: after each
    tick (sends, receives, VAD, marks all happen in it) and when the fake Asterisk got a packet."""

    def __init__(self, asterisk: FakeAsterisk | None = None) -> None:
        self.changed = asyncio.Event() if asterisk is None else asterisk.arrived
        self.clock = MediaClock(sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.changed.set()  # a tick has just run
        await asyncio.sleep(seconds)

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def ticks(asterisk: FakeAsterisk) -> Ticks:
    return Ticks(asterisk)


async def test_ulaw_both_directions(asterisk: FakeAsterisk, ticks: Ticks) -> None:
    audio: list[AudioFrame] = []
    marks: list[Hashable] = []
    session = MediaSession(format="ulaw", on_audio=audio.append, on_mark=marks.append, vad_backend=None,
                           clock=ticks.clock)
    async with session:
        session.set_remote("127.0.0.1", asterisk.port)
        # Asterisk -> engine: 2 s of a 1 kHz tone.
        ulaw = get_codec("ulaw").encode(tone(1000, 2.0, 8000))
        await asterisk.stream(frames_of(ulaw, 160), session.local_port)
        # engine -> Asterisk: 1 s of 440 Hz as a TTS would give it (22.05 kHz).
        session.play(tone(440, 1.0, 22050), 22050, mark="greeting")
        session.flush_output()
        # The last ~140 ms stay inside the resampler (soxr block latency) until more audio comes.
        await ticks.until(lambda: "greeting" in marks and len(audio) >= 90)
        await ticks.until(lambda: len(asterisk.received) >= 50)
        counters = session.counters()

    heard = np.concatenate([f.pcm for f in audio])
    assert all(len(f.pcm) == 320 for f in audio)
    assert [f.t_ms for f in audio[:3]] == [0, 20, 40]
    assert dominant_frequency(heard, 16000) == pytest.approx(1000, abs=8)
    assert counters["rx_packets"] == 100 and counters["jitter_lost"] == 0

    sent = asterisk.received
    assert len(sent) == 50
    assert all(p.payload_type == 0 and len(p.payload) == 160 for p in sent)
    assert sent[0].marker == 1 and not any(p.marker for p in sent[1:])
    assert [(p.sequence_number - sent[0].sequence_number) & 0xFFFF for p in sent] == list(range(50))
    assert len({p.ssrc for p in sent}) == 1
    played = get_codec("ulaw").decode(b"".join(p.payload for p in sent))
    assert dominant_frequency(played, 8000) == pytest.approx(440, abs=8)
    assert counters["tx_packets"] == 50 and counters["pacer_marks_reported"] == 1


async def test_slin16_round_trip(asterisk: FakeAsterisk, ticks: Ticks) -> None:
    audio: list[AudioFrame] = []
    session = MediaSession(format="slin16", tx_format="slin16", on_audio=audio.append, vad_backend=None,
                           clock=ticks.clock)
    async with session:
        session.set_remote("127.0.0.1", asterisk.port)
        l16 = get_codec("slin16").encode(tone(2000, 1.0, 16000))
        await asterisk.stream(frames_of(l16, 640), session.local_port, payload_type=118)
        session.play(tone(700, 0.4, 16000), 16000)
        session.flush_output()
        await ticks.until(lambda: len(audio) == 50 and len(asterisk.received) == 20)
    assert dominant_frequency(np.concatenate([f.pcm for f in audio]), 16000) == pytest.approx(2000, abs=8)
    sent = asterisk.received
    assert all(p.payload_type == 118 and len(p.payload) == 640 for p in sent)
    played = get_codec("slin16").decode(b"".join(p.payload for p in sent))
    assert dominant_frequency(played, 16000) == pytest.approx(700, abs=8)


async def test_speech_gives_vad_events_through_the_batched_path(asterisk: FakeAsterisk, ticks: Ticks,
                                                             speech_8k: np.ndarray) -> None:
    inbox = MediaInbox(maxsize=10_000)
    session = MediaSession(on_audio=inbox.put, on_event=inbox.put, vad_config=VadConfig(stop_secs=0.6),
                           clock=ticks.clock)
    async with session:
        session.set_remote("127.0.0.1", asterisk.port)
        pcm = np.concatenate((np.zeros(8000, np.int16), speech_8k, np.zeros(16000, np.int16)))
        await asterisk.stream(frames_of(get_codec("ulaw").encode(pcm), 160), session.local_port)
        await ticks.until(lambda: any(isinstance(i, SpeechEnded) for i in inbox._items))
    inbox.close()
    items = [item async for item in inbox]
    events: list[VadEvent] = [i for i in items if not isinstance(i, AudioFrame)]
    assert [type(e) for e in events if isinstance(e, (SpeechStarted, SpeechEnded))] == [SpeechStarted, SpeechEnded]
    started = next(e for e in events if isinstance(e, SpeechStarted))
    assert 950 <= started.start_ms <= 1300


async def test_wrong_source_ssrc_change_and_bad_payloads(asterisk: FakeAsterisk, ticks: Ticks) -> None:
    audio: list[AudioFrame] = []
    session = MediaSession(on_audio=audio.append, vad_backend=None, clock=ticks.clock)
    intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    intruder.bind(("127.0.0.1", 0))
    async with session:
        session.set_remote("127.0.0.1", asterisk.port)
        target = ("127.0.0.1", session.local_port)
        silence = b"\xff" * 160
        intruder.sendto(RtpPacket(payload_type=0, payload=silence).serialize(), target)
        await asterisk.stream([silence] * 10, session.local_port)
        assert asterisk.transport is not None
        for packet in (
            RtpPacket(payload_type=8, sequence_number=1, ssrc=0x5E7C21A9, payload=silence),  # alaw on a ulaw channel
            RtpPacket(payload_type=0, sequence_number=1, ssrc=0x5E7C21A9, payload=silence[:80]),  # 10 ms frame
            RtpPacket(payload_type=0, sequence_number=7, ssrc=0x9999, payload=silence),  # a stray source
            *(RtpPacket(payload_type=0, sequence_number=9000 + k, ssrc=0x1234, payload=silence)  # re-bridged
              for k in range(SSRC_PROBATION)),
        ):
            asterisk.transport.sendto(packet.serialize(), target)
        asterisk.transport.sendto(b"\x00garbage", target)
        await ticks.until(lambda: session.counters()["rx_packets"] == 14 + SSRC_PROBATION)
        await ticks.until(lambda: session.counters()["jitter_emitted"] == 10 + SSRC_PROBATION)
        counters = session.counters()
    intruder.close()
    assert counters["dropped_wrong_source"] == 1
    assert counters["malformed"] == 1
    assert counters["wrong_payload"] == 2
    assert counters["ssrc_changes"] == 1 and counters["ssrc_strays"] == 1
    assert counters["jitter_lost"] == 0 and counters["jitter_restarts"] == 0


async def test_barge_in_pause_and_close() -> None:
    session = MediaSession()
    await session.start()
    session.play(tone(440, 2.0, 16000), 16000, mark="long")
    session.flush_output()
    assert session.queued_ms == 2000
    session.pause_output()
    await asyncio.sleep(0.1)
    assert session.queued_ms == 2000  # paused: nothing consumed
    session.resume_output()
    result = session.clear_output()
    assert result.marks == ("long",)
    assert 1800 <= result.ms <= 2000
    assert session.queued_ms == 0

    started = asyncio.Event()

    async def owned() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = session.spawn(owned(), name="stt-feed")
    await started.wait()
    session.pause_output()
    session.play(tone(440, 0.5, 16000), 16000)
    session.flush_output()
    played = session.output.wait_for_playout()
    port = session.local_port
    await session.aclose()
    assert task.cancelled()
    assert played.result().interrupted and session.queued_ms == 0  # closing told the waiter
    await session.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        session.play(tone(440, 0.1, 16000))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", port))  # the port is free again
    finally:
        sock.close()


async def test_unknown_format_fails_before_any_socket_exists() -> None:
    with pytest.raises(ValueError, match="unknown media format 'opus'"):
        MediaSession(format="opus")


async def test_slin16_sends_ulaw_by_default(asterisk: FakeAsterisk, ticks: Ticks) -> None:
    # Asterisk drops dynamic payload types (slin16 is 118) on externalMedia's return path.
    session = MediaSession(format="slin16", vad_backend=None, clock=ticks.clock)
    assert session.codec.name == "slin16" and session.tx_codec.name == "ulaw"
    assert MediaSession(format="ulaw").tx_codec.name == "ulaw"
    assert MediaSession(format="alaw").tx_codec.name == "alaw"
    async with session:
        session.set_remote("127.0.0.1", asterisk.port)
        session.play(tone(700, 0.4, 16000), 16000)
        session.flush_output()
        await ticks.until(lambda: len(asterisk.received) == 20)
    sent = asterisk.received
    assert all(p.payload_type == 0 and len(p.payload) == 160 for p in sent)
    played = get_codec("ulaw").decode(b"".join(p.payload for p in sent))
    assert dominant_frequency(played, 8000) == pytest.approx(700, abs=8)


async def test_the_output_playout_is_awaited(asterisk: FakeAsterisk, ticks: Ticks) -> None:
    session = MediaSession(vad_backend=None, clock=ticks.clock)
    async with session:
        session.set_remote("127.0.0.1", asterisk.port)
        output = session.output
        output.play(tone(700, 0.2, 16000), 16000)
        output.flush()
        end = await asyncio.wait_for(output.wait_for_playout(), 5)
        assert not end.interrupted and output.queued_ms == 0
        assert session.counters()["tx_packets"] == 10  # resolved by the tick that sent the last one

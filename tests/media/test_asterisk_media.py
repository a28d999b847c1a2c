"""MediaSession against the real Asterisk: externalMedia in a mixing bridge with a Local channel.

The Local channel (`media-<name>` in the test dialplan) plays tt-monkeys into the bridge and
MixMonitors what it receives. The engine must hear the file (cross-correlated with sox's
decoding of it) and Asterisk must hear the engine's tone (frequency found by scipy). A slin16
channel carries 16 kHz L16 to the engine and u-law back (Asterisk drops the dynamic payload
type 118 on the return path: see `MediaSession`).
"""
from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
import wave
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy import signal

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle
from flowengine.media.frames import AudioFrame
from flowengine.media.rtp import RtpPacket
from flowengine.media.session import MediaSession
from tests.conftest import Asterisk
from tests.support import eventually

from .conftest import dominant_frequency, tone

SOUND = Path("/usr/share/asterisk/sounds/en/tt-monkeys.gsm")
TONE_HZ = 1000
HEARD_SECONDS = 4.0  # of tt-monkeys the engine must have received
MIN_CORRELATION = 0.9

Audio = npt.NDArray[np.int16]


def reference_16k() -> npt.NDArray[np.float64]:
    """tt-monkeys decoded from GSM and resampled to 16 kHz by sox (independent of our engine)."""
    raw = subprocess.run(
        ["sox", str(SOUND), "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-r", "16000", "-"],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float64)


def peak_correlation(heard: npt.NDArray[np.float64], reference: npt.NDArray[np.float64]) -> tuple[float, int]:
    """Highest normalized cross-correlation of `heard` against every offset into `reference`."""
    n = len(heard)
    assert len(reference) > n
    numerator = signal.correlate(reference, heard, mode="valid", method="fft")
    energy = np.concatenate(([0.0], np.cumsum(reference**2)))
    window = energy[n:] - energy[:-n]
    scores = numerator / (np.sqrt(np.maximum(window, 1e-9)) * np.linalg.norm(heard))
    best = int(np.argmax(scores))
    return float(scores[best]), best


def read_wav(path: Path) -> tuple[Audio, int]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


@dataclass
class Call:
    """One engine session bridged with a Local channel that plays and records."""

    session: MediaSession
    leg: ChannelHandle
    media: ChannelHandle
    bridge: BridgeHandle
    recording: Path
    frames: list[AudioFrame] = field(default_factory=list)
    marks: list[Hashable] = field(default_factory=list)

    def heard(self) -> npt.NDArray[np.float64]:
        """What the engine received, from its first loud frame on."""
        if not self.frames:
            return np.zeros(0)
        pcm = np.concatenate([f.pcm for f in self.frames]).astype(np.float64)
        loud = np.flatnonzero(np.abs(pcm) > 500)
        return pcm[loud[0] :] if len(loud) else pcm[:0]


@asynccontextmanager
async def bridged_call(fmt: str, asterisk: Asterisk, ari: AriClient) -> AsyncIterator[Call]:
    name = f"media-{fmt}-{uuid.uuid4().hex[:8]}"
    recording = asterisk.instance.directory / "spool" / "recording" / f"{name}-rx.wav"
    frames: list[AudioFrame] = []
    marks: list[Hashable] = []
    session = MediaSession(format=fmt, on_audio=frames.append, on_mark=marks.append, vad_backend=None, name=name)
    await session.start()
    bridge = await ari.bridges.create("mixing")
    leg = media = None
    try:
        leg = await ari.channels.originate(f"Local/{name}@flowengine-test", formats="ulaw", wait_stasis=10)
        media = await ari.channels.external_media(session.advertise_address, fmt=fmt)
        variables = media.snapshot.channelvars
        session.set_remote(variables["UNICASTRTP_LOCAL_ADDRESS"], int(variables["UNICASTRTP_LOCAL_PORT"]))
        await bridge.add(leg.id, media.id)
        yield Call(session, leg, media, bridge, recording, frames, marks)
    finally:
        for channel in (media, leg):
            if channel is not None:
                await channel.hangup()
        await bridge.destroy()
        await session.aclose()
        await eventually(lambda: asterisk.channels() == [], what="channels gone")


@pytest.fixture(params=["ulaw", "slin16"])
async def call(request: pytest.FixtureRequest, asterisk: Asterisk, ari: AriClient) -> AsyncIterator[Call]:
    async with bridged_call(request.param, asterisk, ari) as value:
        yield value


async def test_engine_hears_the_file_and_asterisk_records_the_engine_tone(call: Call) -> None:
    # Engine -> Asterisk: 2 s of a 1 kHz tone, as 16 kHz TTS audio would come.
    call.session.play(tone(TONE_HZ, 2.0, 16000, amplitude=10000), 16000, mark="tone")
    call.session.flush_output()
    # Asterisk -> engine: tt-monkeys, played by the Local channel into the bridge.
    await eventually(lambda: len(call.heard()) >= HEARD_SECONDS * 16000, timeout=20, what="4 s of the file heard")
    await eventually(lambda: "tone" in call.marks, timeout=10, what="tone sent")
    await asyncio.sleep(0.5)  # the last packets through the bridge into MixMonitor
    counters = call.session.counters()
    await call.leg.hangup()  # MixMonitor closes its files
    await eventually(lambda: call.recording.exists() and call.recording.stat().st_size > 44, what="recording written")

    assert all(len(f.pcm) == 320 for f in call.frames)
    assert counters["wrong_payload"] == 0 and counters["malformed"] == 0
    assert counters["dropped_wrong_source"] == 0
    assert counters["tx_packets"] >= 100 and counters["rx_packets"] >= HEARD_SECONDS * 50
    assert counters["pacer_marks_reported"] == 1

    heard = call.heard()[: int(HEARD_SECONDS * 16000)]
    score, offset = peak_correlation(heard, reference_16k())
    assert score >= MIN_CORRELATION, f"engine audio correlates {score:.3f} with tt-monkeys (offset {offset})"

    recorded, rate = read_wav(call.recording)
    loud = recorded[np.abs(recorded.astype(np.int32)) > 1000]
    assert len(loud) >= rate  # at least a second of the tone arrived
    assert dominant_frequency(recorded, rate) == pytest.approx(TONE_HZ, abs=rate / 4096 * 2)
    power = np.abs(np.fft.rfft(recorded.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(recorded), 1 / rate)
    in_band = power[np.abs(freqs - TONE_HZ) < 20].sum()
    assert in_band / power.sum() > 0.8, "most of the recording's energy is the tone"


@pytest.fixture
async def ulaw_call(asterisk: Asterisk, ari: AriClient) -> AsyncIterator[Call]:
    async with bridged_call("ulaw", asterisk, ari) as value:
        yield value


async def test_packets_from_a_wrong_source_are_dropped_while_the_stream_flows(ulaw_call: Call) -> None:
    session = ulaw_call.session
    intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    intruder.bind(("127.0.0.1", 0))
    intruder.setblocking(False)
    try:
        await eventually(lambda: session.counters()["rx_packets"] >= 25, what="the real stream")
        loud = bytes([0x00]) * 160  # u-law full scale: would be obvious in the audio
        target = ("127.0.0.1", session.local_port)
        sent = 0
        for i in range(100):
            # Well-formed RTP that would pass every other check (payload type and size): if
            # it got through, it would show as an SSRC change and full-scale audio.
            packet = RtpPacket(payload_type=0, sequence_number=i, timestamp=i * 160, ssrc=0x1234, payload=loud)
            intruder.sendto(packet.serialize(), target)
            sent += 1
            if i % 10 == 9:
                await asyncio.sleep(0.02)
        await eventually(lambda: session.counters()["dropped_wrong_source"] >= sent, what="intruder packets counted")
        await eventually(lambda: len(ulaw_call.heard()) >= HEARD_SECONDS * 16000, timeout=20, what="4 s heard")
        counters = session.counters()
    finally:
        intruder.close()
    assert counters["dropped_wrong_source"] == sent
    assert counters["ssrc_changes"] == 0 and counters["jitter_duplicate"] == 0 and counters["jitter_restarts"] == 0
    assert counters["jitter_lost"] == 0
    heard = ulaw_call.heard()[: int(HEARD_SECONDS * 16000)]
    score, _ = peak_correlation(heard, reference_16k())
    assert score >= MIN_CORRELATION
    # No full-scale frame: the intruder's audio never reached the engine.
    assert np.abs(heard).max() < 30000

"""Test harness for flows on real calls: an engine-side FlowService and a caller that records what it hears."""
from __future__ import annotations

import asyncio
import uuid
import wave
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np

from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.app import AriApp
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisStart
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.media_server import MediaServer
from flowengine.asterisk.routing import RouteTable
from flowengine.events import EventBus
from flowengine.flow.activeflow import Activeflow, ActiveflowStatus
from flowengine.flow.aiport import AICalls
from flowengine.flow.context import Services, ServicesLink, SmtpSettings
from flowengine.flow.service import FlowService
from flowengine.flow.speech import SpeechCache
from flowengine.providers.tts import TTS_PROVIDERS
from tests.conftest import Asterisk
from tests.support import Flows


@dataclass
class Harness:
    asterisk: Asterisk
    ari: AriClient
    service: FlowService
    app: AriApp
    flows: Flows
    ended: list[Activeflow] = field(default_factory=list)
    updates: list[tuple[str, str, str]] = field(default_factory=list)

    async def observe(self, af: Activeflow, event: str) -> None:
        self.updates.append((af.id, af.current_action.id, str(af.status)))
        if af.status == ActiveflowStatus.ENDED:
            self.ended.append(af)

    async def wait_ended(self, count: int = 1, timeout: float = 30) -> Activeflow:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.ended) < count:
            assert asyncio.get_running_loop().time() < deadline, f"activeflow not ended; updates: {self.updates[-5:]}"
            await asyncio.sleep(0.05)
        return self.ended[count - 1]

    async def wait_action(self, action_id: str, timeout: float = 20) -> str:
        """Wait until some running activeflow is on `action_id`; returns that activeflow's id."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for runner in self.service.runners.values():
                if runner.activeflow.current_action.id == action_id:
                    return runner.activeflow.id
            assert asyncio.get_running_loop().time() < deadline, f"never reached {action_id}: {self.updates[-5:]}"
            await asyncio.sleep(0.02)


@asynccontextmanager
async def flow_harness(asterisk: Asterisk, ari: AriClient, tmp: Path, default_flow: str = "main",
                       tts: str = "espeak", *, ai: AICalls | None = None, link: ServicesLink | None = None,
                       events: EventBus | None = None, ami: AmiClient | None = None, smtp: SmtpSettings | None = None,
                       endpoints: Mapping[str, str] | None = None) -> AsyncIterator[Harness]:
    """The flows' parts wired as the engine wires them; `ai` (built on `link`, which the services are bound
    to) runs the AI actions; `endpoints` add to the test callee's."""
    flows = Flows()
    server = MediaServer(tmp / "speech")
    await server.start()
    http = aiohttp.ClientSession()
    link = link or ServicesLink()
    service = FlowService(link)
    app = AriApp(ari, RouteTable(default_flow=default_flow), service.handle_call)
    harness = Harness(asterisk, ari, service, app, flows)
    link.bind(Services(ari=ari, flows=flows, speech=SpeechCache(TTS_PROVIDERS.create(tts), server), http=http,
                       recordings_dir=str(asterisk.instance.directory / "spool" / "recording"),
                       endpoints={"extension": "Local/{target}@flowengine-test-callee", **(endpoints or {})},
                       observers=(harness.observe,), start_flow=service.start_flow, dial_flow=service.dial_flow,
                       ai=ai, events=events or EventBus(), ami=ami, smtp=smtp or SmtpSettings()))
    try:
        yield harness
    finally:
        await app.aclose()
        await service.aclose()
        await http.close()
        await server.aclose()


@dataclass
class Caller:
    """The calling side of a test call: a Local leg in our app that can send DTMF and record."""

    ari: AriClient
    leg: ChannelHandle
    recording: str = ""

    async def send(self, digits: str) -> None:
        await self.leg.send_dtmf(digits, between_ms=80, duration_ms=80)

    async def hangup(self) -> None:
        await self.leg.hangup()


async def place_call(ari: AriClient, number: str = "1000", *, record: bool = False) -> Caller:
    """Call the engine through the inbound dialplan; returns once the engine answered."""
    leg_id = f"caller-{uuid.uuid4()}"
    events = ari.events(leg_id)
    try:
        leg = await ari.channels.originate(f"Local/{number}@flowengine-inbound", formats="ulaw",
                                           channel_id=leg_id, caller_id="Tester <5550199>")
        await events.wait_for(StasisStart, timeout=20)
    finally:
        events.close()
    caller = Caller(ari, leg)
    if record:
        snoop = await leg.snoop(spy="in")
        caller.recording = f"heard-{uuid.uuid4().hex[:8]}"
        await snoop.record(caller.recording, fmt="wav")
    return caller


def speech_seconds(path: Path) -> float:
    """Seconds of 20 ms frames louder than a quiet line in a recording."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    frame = rate // 50
    frames = pcm[: pcm.size - pcm.size % frame].reshape(-1, frame)
    rms = np.sqrt((frames**2).mean(axis=1)) if frames.size else np.zeros(0)
    return float((rms > 300).sum()) * 0.02


def tone_seconds(path: Path, hz: float) -> float:
    """Seconds of 20 ms frames in a recording that are audible and mostly a tone of `hz` (within 60 Hz):
    tells which party a side heard when each plays its own tone."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    size = rate // 50
    frames = pcm[: pcm.size - pcm.size % size].reshape(-1, size)
    if not frames.size:
        return 0.0
    power = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = power[:, np.abs(freqs - hz) <= 60].sum(axis=1) / np.maximum(power.sum(axis=1), 1e-9)
    loud = np.sqrt((frames**2).mean(axis=1)) > 300
    return float((loud & (band > 0.6)).sum()) * 0.02

"""A scripted caller for demos and benchmarks: dials through Asterisk, speaks prepared audio, times what it hears."""
from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisStart
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle
from flowengine.asterisk.ari.rest import AriError
from flowengine.media.frames import AudioFrame
from flowengine.media.session import MediaSession
from flowengine.media.vad import SpeechEnded, SpeechStarted, VadConfig, VadEvent

AUDIBLE_RMS = 100.0  # int16 RMS of a 20 ms frame (about -50 dBFS): above it, the frame carries the agent's voice


@dataclass
class Heard:
    """One stretch of agent speech as the caller heard it (wall-clock seconds, perf_counter)."""

    start: float
    end: float = 0.0


@dataclass
class ScriptedCaller:
    """The calling side of a test call: a Local leg bridged with our own externalMedia channel, so
    the caller's audio goes out and the agent's comes back through a second MediaSession."""

    ari: AriClient
    leg: ChannelHandle | None = None
    bridge: BridgeHandle | None = None
    external: ChannelHandle | None = None
    session: MediaSession | None = None
    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (arrival time, 20 ms PCM16 16 kHz)
    heard: list[Heard] = field(default_factory=list)
    _said: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    _speech: asyncio.Event = field(default_factory=asyncio.Event)
    last_frame: float = 0.0

    async def dial(self, endpoint: str, timeout: float = 20) -> None:
        leg_id = f"demo-caller-{uuid.uuid4()}"
        events = self.ari.events(leg_id)
        try:
            self.leg = await self.ari.channels.originate(endpoint, formats="ulaw", channel_id=leg_id,
                                                         caller_id='"Demo caller" <5550100>')
            await events.wait_for(StasisStart, timeout=timeout)  # the engine answered
        finally:
            events.close()
        # The agent's speech is quieter at the start of words than a live voice: listen keenly.
        vad = VadConfig(confidence=0.5, start_secs=0.06, stop_secs=0.5, min_volume=0.2)
        # idle_silence: a phone sends RTP all the time, so the engine's VAD hears the caller stop.
        self.session = await MediaSession(vad_config=vad, on_audio=self._on_audio, on_event=self._on_event,
                                          on_mark=self._on_mark, idle_silence=True, name="demo-caller").start()
        self.bridge = await self.ari.bridges.create("mixing", name="demo-caller")
        self.external = await self.ari.channels.external_media(self.session.advertise_address, fmt="ulaw")
        v = self.external.snapshot.channelvars
        self.session.set_remote(v["UNICASTRTP_LOCAL_ADDRESS"], int(v["UNICASTRTP_LOCAL_PORT"]))
        await self.bridge.add(self.leg.id)
        await self.bridge.add(self.external.id)

    def _on_audio(self, frame: AudioFrame) -> None:
        self.last_frame = time.perf_counter()
        self.frames.append((self.last_frame, frame.pcm.copy()))

    def _on_event(self, event: VadEvent) -> None:
        now = time.perf_counter()
        if isinstance(event, SpeechStarted):
            # The VAD confirms speech `t_ms - start_ms` after it began.
            self.heard.append(Heard(start=now - (event.t_ms - event.start_ms) / 1000))
            self._speech.set()
        elif isinstance(event, SpeechEnded) and self.heard:
            self.heard[-1].end = now - (event.t_ms - event.end_ms) / 1000

    def _on_mark(self, mark: object) -> None:
        fut = self._said.pop(str(mark), None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())

    async def say(self, pcm: np.ndarray, rate: int) -> float:
        """Speak `pcm`; returns the time its last sample went out (the end of the caller's turn)."""
        return (await self.say_timed(pcm, rate))[1]

    async def say_timed(self, pcm: np.ndarray, rate: int) -> tuple[float, float]:
        """Speak `pcm`; returns when its first 20 ms frame and its last sample went out."""
        assert self.session is not None
        first_frame = rate // 50
        loop = asyncio.get_running_loop()
        marks: list[asyncio.Future[float]] = []
        for chunk in (pcm[:first_frame], pcm[first_frame:]):
            mark = uuid.uuid4().hex
            self._said[mark] = fut = loop.create_future()
            marks.append(fut)
            self.session.play(chunk, rate, mark=mark)
        self.session.flush_output()
        first, last = await asyncio.gather(*marks)
        return first, last

    def agent_audio(self, start: float, end: float, threshold: float = AUDIBLE_RMS) -> list[float]:
        """Arrival times of the frames between two times that carry the agent's voice (the caller does not hear
        itself: what comes back is the agent's alone)."""
        return [t for t, pcm in self.frames
                if start <= t <= end and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > threshold]

    async def agent_speech_after(self, t: float, timeout: float) -> Heard | None:
        """The first agent speech that started after `t`, waiting up to `timeout` seconds."""
        deadline = time.perf_counter() + timeout
        while True:
            self._speech.clear()  # before looking: a start arriving after the look wakes the wait
            for stretch in self.heard:
                if stretch.start > t:
                    return stretch
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._speech.wait(), left)

    async def quiet_for(self, seconds: float, timeout: float = 60) -> None:
        """Until the agent has been silent for `seconds` (or nothing arrives any more: hung up)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            last = self.heard[-1] if self.heard else None
            talking = last is not None and last.end == 0.0 and now - self.last_frame < seconds
            recent = last is not None and last.end != 0.0 and now - last.end < seconds
            if not talking and not recent:
                return
            await asyncio.sleep(0.05)

    def recording(self, start: float = 0.0, end: float = float("inf")) -> np.ndarray:
        """What the caller heard between two times (default: all of it)."""
        pcm = [p for t, p in self.frames if start <= t <= end]
        return np.concatenate(pcm) if pcm else np.zeros(0, dtype=np.int16)

    async def hangup(self) -> None:
        for channel in (self.external, self.leg):
            if channel is not None:
                with contextlib.suppress(AriError):
                    await channel.hangup()
        if self.bridge is not None:
            await self.bridge.destroy()
        if self.session is not None:
            await self.session.aclose()

"""`MediaSession`: the audio of one AI call, from Asterisk's RTP to 16 kHz frames and back."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Hashable
from typing import Any, Self

from flowengine.media.clock import MediaClock
from flowengine.media.codecs import FIRST_DYNAMIC_PAYLOAD_TYPE, Codec, get_codec
from flowengine.media.g711 import Pcm
from flowengine.media.inbound import HALFBAND, AudioHandler, EventHandler, Receiver
from flowengine.media.jitter import FillMode
from flowengine.media.outbound import Playout
from flowengine.media.output import AudioOutput
from flowengine.media.pacer import ClearResult, MarkHandler
from flowengine.media.resample import ENGINE_RATE
from flowengine.media.totals import TOTALS
from flowengine.media.transport import RtpTransport
from flowengine.media.vad import VadAnalyzer, VadConfig
from flowengine.media.vad_backends import make_vad_backend
from flowengine.tasks import TaskOwner

logger = logging.getLogger(__name__)


def default_tx_codec(codec: Codec) -> Codec:
    """The format to send to Asterisk on a channel of format `codec` (see `MediaSession`)."""
    return codec if codec.payload_type < FIRST_DYNAMIC_PAYLOAD_TYPE else get_codec("ulaw")


class MediaSession:
    """The media of one externalMedia channel.

    Inbound: transport -> jitter buffer -> decode -> VAD (at the codec rate, so VAD events
    carry no resampler delay) -> resample to 16 kHz -> `on_audio(AudioFrame)`; VAD events go
    to `on_event`. Outbound: `play(pcm, rate, mark=...)` -> resample to the codec rate ->
    encode -> pacer -> one RTP packet per tick of the shared `MediaClock`. `output` is that
    outbound half as an `AudioOutput` (play, clear, pause, wait for playout, marks), the port
    an agent speaks through; `play()`, `flush_output()` and the like are its shorthands here.

    `tx_format` is the format we send in; by default the channel's `format`, except for
    formats with a dynamic RTP payload type (`slin16`, 118): Asterisk (16.28, and 18-22 per
    its documentation) silently drops those on an externalMedia channel's return path, while
    it accepts and transcodes static payload types such as u-law (verified on 16.28). So a
    `slin16` session receives 16 kHz L16 and sends u-law.

    Packet and tick work are plain callbacks shared by all sessions of the loop (one clock
    tick, one inbound batch): a session has no task of its own. Tasks the call attaches to
    its media (`spawn()`) are owned here; `aclose()` cancels and awaits them, leaves the
    clock and closes the socket. Callbacks (`on_audio`, `on_event`, `on_mark`) run inside
    the clock tick and must return quickly.
    """

    def __init__(
        self,
        *,
        format: str = "ulaw",
        tx_format: str | None = None,
        bind_host: str = "127.0.0.1",
        advertise_host: str | None = None,
        port_range: tuple[int, int] | None = None,
        vad_config: VadConfig | None = None,
        vad_backend: str | None = "webrtc",
        idle_silence: bool = False,
        jitter_capacity: int = 4,
        jitter_fill: FillMode = "silence",
        rx_quality: str = HALFBAND,
        tx_quality: str = "HQ",
        on_audio: AudioHandler | None = None,
        on_event: EventHandler | None = None,
        on_mark: MarkHandler | None = None,
        clock: MediaClock | None = None,
        name: str = "",
    ) -> None:
        self.codec = codec = get_codec(format)
        self.tx_codec = tx_codec = get_codec(tx_format) if tx_format is not None else default_tx_codec(codec)
        self.name = name
        self._bind_host = bind_host
        self._advertise_host = advertise_host
        self._port_range = port_range
        self._clock = clock
        vad = None
        if vad_backend is not None:
            config = vad_config or VadConfig()
            vad = VadAnalyzer(make_vad_backend(vad_backend, codec.sample_rate, config), config)
        self._vad = vad
        self._rx_options: dict[str, Any] = {
            "jitter_capacity": jitter_capacity,
            "jitter_fill": jitter_fill,
            "quality": rx_quality,
            "on_audio": on_audio,
            "on_event": on_event,
        }
        self._receiver: Receiver | None = None
        self.playout = Playout(tx_codec, self._not_started, idle_silence=idle_silence, quality=tx_quality, on_mark=on_mark)
        self._transport: RtpTransport | None = None
        self._tasks = TaskOwner(f"media session {name}".rstrip())
        self._closed = False

    @staticmethod
    def _not_started(packet: bytes) -> None:
        pass

    # lifecycle

    async def start(self) -> Self:
        """Open the socket and join the media clock."""
        if self._transport is not None or self._closed:
            raise RuntimeError("media session already started")
        if self._clock is None:
            self._clock = MediaClock.for_loop()
        clock = self._clock
        self._receiver = Receiver(self.codec, clock.inbound, vad=self._vad, **self._rx_options)
        self._transport = await RtpTransport.open(
            bind_host=self._bind_host,
            port_range=self._port_range,
            advertise_host=self._advertise_host,
            on_packet=self._receiver.on_packet,
            poller=clock.poller,
        )
        self.playout.send = self._transport.send
        TOTALS.join(self)
        clock.add(self.playout)
        logger.debug("media session %s on %s:%s", self.name, self._transport.bind_host, self._transport.local_port)
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel and await owned tasks, leave the clock, drop unsent audio (its playout waiters
        are told), close the socket. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._tasks.aclose()
        if self._clock is not None:
            self._clock.remove(self.playout)
        self.playout.close()
        if self._receiver is not None:
            self._receiver.close()
        if self._transport is not None:
            await self._transport.aclose()
            TOTALS.retire(self)  # its final counts, now that no packet can arrive
            logger.debug("media session %s closed: %s", self.name, self.counters())

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run a task owned by this session: cancelled and awaited by `aclose()`."""
        if self._closed:
            coro.close()
            raise RuntimeError("media session is closed")
        return self._tasks.start(coro, name=name)

    # addressing

    @property
    def transport(self) -> RtpTransport:
        if self._transport is None:
            raise RuntimeError("media session not started")
        return self._transport

    @property
    def local_port(self) -> int:
        return self.transport.local_port

    @property
    def advertise_address(self) -> str:
        """`host:port` for externalMedia's `external_host`."""
        return self.transport.advertise_address

    def set_remote(self, host: str, port: int) -> None:
        """Asterisk's `UNICASTRTP_LOCAL_ADDRESS` / `UNICASTRTP_LOCAL_PORT` channel variables."""
        self.transport.set_remote(host, port)

    # inbound

    @property
    def vad(self) -> VadAnalyzer | None:
        return self._vad

    # outbound

    @property
    def output(self) -> AudioOutput:
        """The agent's voice on this call: what the conversation plays, clears and waits on."""
        return self.playout

    def play(self, pcm: Pcm | bytes, rate: int = ENGINE_RATE, *, mark: Hashable | None = None) -> None:
        """Queue mono PCM16 at `rate` (8, 16, 22.05, 24, 44.1 or 48 kHz) for playout.

        `mark` is reported to `on_mark` once the last sample of this chunk has been sent.
        Call `flush_output()` at the end of an utterance to send its last partial frame.
        """
        if self._closed:
            raise RuntimeError("media session is closed")
        self.playout.play(pcm, rate, mark=mark)

    def flush_output(self) -> None:
        """End of utterance: drain the resampler and queue the last, silence-padded frame."""
        self.playout.flush()

    def clear_output(self) -> ClearResult:
        """Barge-in: drop all audio not yet sent. Returns how much, and the marks never reached."""
        return self.playout.clear()

    def pause_output(self) -> None:
        self.playout.pacer.pause()

    def resume_output(self) -> None:
        self.playout.pacer.resume()

    @property
    def queued_ms(self) -> int:
        """Audio queued for playout and not yet sent."""
        return self.playout.pacer.queued_ms

    # observability

    def counters(self) -> dict[str, int]:
        counters = self._transport.counters() if self._transport is not None else {}
        if self._receiver is not None:
            counters.update(self._receiver.counters())
        counters.update(self.playout.pacer.counters())
        return counters

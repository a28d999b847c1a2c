"""Outbound audio: PCM at any rate with marks -> resample -> encode -> pacer -> one RTP packet per tick."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable

import numpy as np

from flowengine.media.codecs import Codec
from flowengine.media.g711 import Pcm
from flowengine.media.output import PlayoutEnd
from flowengine.media.pacer import ClearResult, MarkHandler, Pacer
from flowengine.media.resample import ENGINE_RATE, Resampler
from flowengine.media.rtp_sender import RtpSender

_EMPTY_PCM = np.zeros(0, dtype=np.int16)


class Playout:
    """The outbound half of one session, and its `AudioOutput` (flowengine.media.output).

    Audio is converted when queued, not when sent: a TTS chunk is resampled (straight to the
    codec rate) and encoded in one numpy pass, so a tick only pops a ready payload, adds the
    12-byte header and sends it.

    Marks are kept as sample positions on the codec-rate time line and handed to the pacer
    once the frame holding that position is queued (the resampler and the partial last frame
    hold some audio back until more comes or `flush()`).

    `wait_for_playout()` futures are resolved by the tick itself, right after it sent the last
    queued frame, or by `clear()`: nobody has to poll `queued_ms`. A tick with no waiter pays
    one truth test for this.
    """

    def __init__(
        self,
        codec: Codec,
        send: Callable[[bytes], None],
        *,
        idle_silence: bool = False,
        quality: str = "HQ",
        on_mark: MarkHandler | None = None,
    ) -> None:
        self.codec = codec
        self.send = send
        self.quality = quality
        self.pacer = Pacer(silence=codec.silence if idle_silence else None, on_mark=on_mark)
        self.sender = RtpSender(codec.payload_type, codec.samples_per_frame)
        self.resampler: Resampler | None = None
        self._spf = codec.samples_per_frame
        self._frame_bytes = codec.frame_bytes
        self._rest: Pcm = _EMPTY_PCM
        self._marks: list[tuple[int, Hashable]] = []
        self._waiters: list[asyncio.Future[PlayoutEnd]] = []
        self.closed = False

    @property
    def on_mark(self) -> MarkHandler | None:
        return self.pacer.on_mark

    @on_mark.setter
    def on_mark(self, handler: MarkHandler | None) -> None:
        self.pacer.on_mark = handler

    @property
    def queued_ms(self) -> int:
        """Audio queued for sending (after `flush()`, all of it)."""
        return self.pacer.queued_ms

    def pause(self) -> None:
        self.pacer.pause()

    def resume(self) -> None:
        self.pacer.resume()

    def wait_for_playout(self) -> asyncio.Future[PlayoutEnd]:
        """Resolved in the tick that sends the last queued frame, or by `clear()` (see AudioOutput)."""
        future: asyncio.Future[PlayoutEnd] = asyncio.get_running_loop().create_future()
        if self.pacer.queued_frames:
            self._waiters.append(future)
        else:
            future.set_result(PlayoutEnd())
        return future

    def close(self) -> None:
        """The session is gone: queued audio is dropped (waiters learn it) and nothing more is taken."""
        self.closed = True
        self.clear()

    def play(self, pcm: Pcm | bytes, rate: int = ENGINE_RATE, *, mark: Hashable | None = None) -> None:
        if self.closed:
            raise RuntimeError("media output is closed")
        if not isinstance(pcm, np.ndarray):
            pcm = np.frombuffer(pcm, dtype=np.int16)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError("play() takes mono PCM16: a 1-D int16 array or bytes")
        resampler = self.resampler
        if resampler is None or resampler.in_rate != rate:
            if resampler is not None:
                self._queue_samples(resampler.flush())
            resampler = self.resampler = Resampler(rate, self.codec.sample_rate, quality=self.quality)
        self._queue_samples(resampler.process(pcm))
        if mark is not None:
            position = self.pacer.pushed * self._spf + len(self._rest) + resampler.pending_samples
            self._marks.append((position, mark))
        self._release_marks()

    def flush(self) -> None:
        """End of utterance: drain the resampler, pad the last frame with silence, queue it."""
        if self.resampler is not None:
            self._queue_samples(self.resampler.flush())
        rest = self._rest
        if len(rest):
            self._queue_samples(np.concatenate((rest, np.zeros(self._spf - len(rest), dtype=np.int16))))
        self._release_marks(everything=True)

    def clear(self) -> ClearResult:
        """Barge-in: drop all audio not yet sent; returns how much and the marks never reached."""
        result = self.pacer.clear()
        pending = len(self._rest)
        if self.resampler is not None:
            pending += self.resampler.pending_samples
            self.resampler.reset()
        self._rest = _EMPTY_PCM
        marks = result.marks + tuple(mark for _, mark in self._marks)
        self._marks.clear()
        cleared = ClearResult(result.frames + -(-pending // self._spf), marks)
        if self._waiters:
            self._settle(PlayoutEnd(cleared))
        return cleared

    def on_tick(self) -> None:
        frame = self.pacer.next_frame()
        if frame is None:
            self.sender.skip()
        else:
            self.send(self.sender.packet(frame))
        if self._waiters and not self.pacer.queued_frames:
            self._settle(PlayoutEnd())

    def _settle(self, end: PlayoutEnd) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():  # a waiter that stopped waiting cancelled its future
                future.set_result(end)

    def _queue_samples(self, pcm: Pcm) -> None:
        rest = self._rest
        if len(rest):
            pcm = np.concatenate((rest, pcm))
        spf = self._spf
        count = len(pcm) // spf
        if count:
            data = self.codec.encode(pcm[: count * spf])
            size = self._frame_bytes
            self.pacer.extend([data[i : i + size] for i in range(0, len(data), size)])
        self._rest = pcm[count * spf :]

    def _release_marks(self, *, everything: bool = False) -> None:
        marks = self._marks
        pushed = self.pacer.pushed
        while marks:
            position, mark = marks[0]
            frame = -(-position // self._spf)
            if frame > pushed and not everything:
                break
            self.pacer.mark(mark, after=min(frame, pushed))
            marks.pop(0)

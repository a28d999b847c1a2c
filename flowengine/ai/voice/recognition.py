"""What the caller said: the conversation's recogniser, asked once per finished utterance (batch) or fed frame
by frame as the caller speaks (streaming), and the fallback recogniser that takes over when it fails for good."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

import numpy as np

from flowengine.media.frames import AudioFrame
from flowengine.providers.stt.base import OPEN, STTContext, STTError, STTProvider, STTStream, Transcript
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

PREROLL_MS = 300  # audio kept before the VAD's speech start: quiet onsets ("hi", "tue-") fall below its threshold


class Recognition:
    """One conversation's ears. `frames` is the conversation's recent audio (the batch recogniser's input and
    the fallback's); a streaming recogniser gets the pre-roll at `begin` and each frame through `feed` while
    the utterance lasts. `on_end_of_speech` is the streaming provider's own end-of-speech signal."""

    def __init__(self, stt: STTProvider, frames: deque[AudioFrame], tasks: TaskOwner, *, language: str = "",
                 keywords: tuple[str, ...] = (), fallback: STTProvider | None = None,
                 on_end_of_speech: Callable[[str], None] | None = None) -> None:
        self.stt = stt
        self.fallback = fallback
        self.language = language
        self.keywords = keywords
        self.context: Callable[[], STTContext] = lambda: OPEN  # what the agent's last question expects
        self.fell_back = False
        self._frames = frames
        self._tasks = tasks
        self._on_end_of_speech = on_end_of_speech
        self._stream: STTStream | None = None
        self._opening: asyncio.Task[STTStream | STTError] | None = None
        self._failed: STTError | None = None  # the stream broke mid-utterance: the transcript falls back
        self._sent_from_ms = -1  # stream time of the first frame sent in this utterance (-1: none)

    @property
    def streaming(self) -> bool:
        return self.stt.streaming

    def start(self) -> None:
        """Open the streaming session now, so the first utterance does not wait for the connection."""
        if self.streaming and self._opening is None:
            self._opening = self._tasks.start(self._open(), name="stt-stream-open")

    async def _open(self) -> STTStream | STTError:
        try:
            stream = await self.stt.open_stream(language=self.language, keywords=self.keywords)
        except STTError as exc:
            return exc
        stream.on_end_of_speech = self._on_end_of_speech
        self._stream = stream
        return stream

    async def _ready(self) -> STTStream | None:
        if self._stream is not None or self._failed is not None:
            return self._stream
        self.start()
        assert self._opening is not None
        opened = await asyncio.shield(self._opening)
        if isinstance(opened, STTError):
            self._failed = opened
            return None
        return opened

    async def begin(self, start_ms: int) -> None:
        """An utterance started at `start_ms`: a streaming recogniser gets the pre-roll now."""
        if not self.streaming:
            return
        stream = await self._ready()
        if stream is None:
            return
        first = start_ms - PREROLL_MS
        for frame in [f for f in self._frames if f.t_ms >= first]:
            await self._send(stream, frame)

    async def feed(self, frame: AudioFrame) -> None:
        """A frame of the utterance in progress (streaming recognisers only; the batch one reads `frames`)."""
        stream = self._stream
        if stream is not None and self._failed is None:
            await self._send(stream, frame)

    async def _send(self, stream: STTStream, frame: AudioFrame) -> None:
        if self._sent_from_ms < 0:
            self._sent_from_ms = frame.t_ms
        try:
            await stream.send(frame.pcm)
        except STTError as exc:
            log.warning("%s recognition broke mid-utterance: %s", self.stt.name, exc)
            self._failed = exc

    async def transcript(self, start_ms: int, end_ms: int) -> Transcript | STTError:
        """The utterance's text. A failure is returned, not raised, once the fallback (if any) failed too."""
        if self.streaming:
            answer = await self._finalize()
        else:
            answer = await self._batch(self.stt, start_ms, end_ms)
        if isinstance(answer, STTError) and self.fallback is not None and not self.fell_back:
            log.error("recogniser %r failed, %r takes over the call: %s", self.stt.name, self.fallback.name, answer)
            await self._switch()
            answer = await self._batch(self.stt, start_ms, end_ms)
        return answer

    async def _finalize(self) -> Transcript | STTError:
        self._sent_from_ms = -1
        if self._failed is not None:
            return self._failed
        stream = self._stream or await self._ready()
        if stream is None:
            return self._failed or STTError(f"{self.stt.name}: no recognition session")
        try:
            return await stream.finalize()
        except STTError as exc:
            self._failed = exc
            return exc

    async def _batch(self, stt: STTProvider, start_ms: int, end_ms: int) -> Transcript | STTError:
        first = start_ms - PREROLL_MS
        frames = [f.pcm for f in self._frames if first <= f.t_ms < end_ms + 20]
        if not frames:
            return Transcript("")
        pcm = np.concatenate(frames).astype(np.int16, copy=False)
        try:
            return await stt.transcribe_in_context(pcm, self.context(), language=self.language)
        except STTError as exc:
            return exc

    async def _switch(self) -> None:
        assert self.fallback is not None
        self.stt, self.fell_back = self.fallback, True
        await self._close_stream()

    def discard(self) -> None:
        """The utterance was dropped (pause, a new start): what was streamed of it is finalized and ignored."""
        if self._sent_from_ms < 0 or self._stream is None or self._failed is not None:
            return
        self._sent_from_ms = -1
        self._tasks.start(self._finalize_ignored(self._stream), name="stt-stream-discard")

    @staticmethod
    async def _finalize_ignored(stream: STTStream) -> None:
        with contextlib.suppress(STTError):
            await stream.finalize()

    async def _close_stream(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    async def aclose(self) -> None:
        await self._close_stream()

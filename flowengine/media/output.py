"""`AudioOutput`: the port an agent's voice goes out through (play, clear, pause, wait for playout, marks)."""
from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from flowengine.media.g711 import Pcm
from flowengine.media.pacer import ClearResult, MarkHandler
from flowengine.media.resample import ENGINE_RATE


@dataclass(frozen=True, slots=True)
class PlayoutEnd:
    """How the audio queued before a `wait_for_playout()` ended: all of it sent, or some of it cleared."""

    cleared: ClearResult | None = None

    @property
    def interrupted(self) -> bool:
        return self.cleared is not None


class AudioOutput(Protocol):
    """Where an agent's audio goes, in the spirit of LiveKit Agents' `voice/io.py` `AudioOutput`.

    `play()` queues PCM16 (any supported rate; engine audio is 16 kHz) and `flush()` ends an
    utterance, sending its last partial frame. Playout runs on its own schedule (the media clock);
    `wait_for_playout()` is the one way to learn that it finished: a future the playout path
    resolves in the tick that sends the last queued frame, or when `clear()` drops what was left.
    What the caller actually heard is told by marks: a `mark` given to `play()` goes to `on_mark`
    once the last sample of that chunk has been sent (`clear()` returns those never reached).
    """

    on_mark: MarkHandler | None

    def play(self, pcm: Pcm | bytes, rate: int = ENGINE_RATE, *, mark: Hashable | None = None) -> None: ...

    def flush(self) -> None: ...

    def clear(self) -> ClearResult: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    @property
    def queued_ms(self) -> int: ...

    def wait_for_playout(self) -> asyncio.Future[PlayoutEnd]:
        """Resolved once everything queued so far has been sent or cleared (at once when nothing is);
        audio still held back for the next frame is sent, and so waited for, only after `flush()`."""
        ...

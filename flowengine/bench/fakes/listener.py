"""How a fake recogniser 'hears': speech by frame energy, its own endpointing by silence after speech, and the
text it answers from a script (one line per caller turn, in order) - the fakes test our wire code and timing,
not recognition."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from flowengine.bench.fakes.server import loud


@dataclass
class Listener:
    """Fed the PCM16 a client streams (any chunking), at `rate`; reports its own speech start and end."""

    script: deque[str] = field(default_factory=deque)
    rate: int = 16000
    endpointing_ms: int = 300  # silence after speech that the 'provider' calls the end of speech
    frame_ms: int = 20
    audio_ms: float = 0.0  # stream time received
    _speaking: bool = False
    _heard: bool = False  # speech since the last `take`
    _silence_ms: float = 0.0
    _rest: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))

    def feed(self, pcm: np.ndarray) -> list[str]:
        """Events in order: "speech_started" and "speech_ended" (the endpointing silence reached)."""
        events: list[str] = []
        data = np.concatenate([self._rest, pcm.astype(np.int16, copy=False)])
        step = self.rate * self.frame_ms // 1000
        whole = data.size - data.size % step
        for start in range(0, whole, step):
            frame = data[start:start + step]
            self.audio_ms += self.frame_ms
            if loud(frame):
                self._silence_ms = 0.0
                self._heard = True
                if not self._speaking:
                    self._speaking = True
                    events.append("speech_started")
            elif self._speaking:
                self._silence_ms += self.frame_ms
                if self._silence_ms >= self.endpointing_ms:
                    self._speaking = False
                    events.append("speech_ended")
        self._rest = data[whole:]
        return events

    @property
    def heard(self) -> bool:
        return self._heard

    def take(self) -> str:
        """The next scripted line when speech was heard since the last take, else ""."""
        if not self._heard:
            return ""
        self._heard = False
        self._speaking = False
        return self.script.popleft() if self.script else "hello"

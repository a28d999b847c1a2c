"""Voice activity: `VadConfig` (the AIcall's `ai_vad_config`), the QUIET/STARTING/SPEAKING/STOPPING machine, events."""
from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from flowengine.media.g711 import Pcm

FRAME_MS = 20
# Pipecat's defaults (VADParams), except stop_secs: 0.2 as the AIcall defaults document.
DEFAULT_CONFIDENCE = 0.7
DEFAULT_START_SECS = 0.2
DEFAULT_STOP_SECS = 0.2
DEFAULT_MIN_VOLUME = 0.6
# Volume scale: Pipecat measures loudness on int16-scaled samples and maps -20..80 to 0..1.
# We use plain RMS in the same scale (no K-weighting, 10x cheaper): volume =
# (20*log10(rms) - 0.691 + 20) / 100, so min_volume 0.6 is an RMS of about 108 (-50 dBFS)
# and full-scale speech (about -20 dBFS) is about 0.9.
_VOLUME_OFFSET_DB = 20.0 - 0.691
_VOLUME_RANGE_DB = 100.0

_RANGES: dict[str, tuple[float, float, float]] = {
    "confidence": (0.0, 1.0, DEFAULT_CONFIDENCE),
    "start_secs": (0.0, 30.0, DEFAULT_START_SECS),
    "stop_secs": (0.0, 30.0, DEFAULT_STOP_SECS),
    "min_volume": (0.0, 1.0, DEFAULT_MIN_VOLUME),
}


class VadConfigError(ValueError):
    """`ai_vad_config` is invalid; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class VadConfig:
    """The AIcall's `ai_vad_config`. Every field is optional; ranges are checked all at once."""

    confidence: float = DEFAULT_CONFIDENCE
    start_secs: float = DEFAULT_START_SECS
    stop_secs: float = DEFAULT_STOP_SECS
    min_volume: float = DEFAULT_MIN_VOLUME

    def __post_init__(self) -> None:
        problems = []
        for name, (low, high, _) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                problems.append(f"ai_vad_config.{name} must be a number, got {value!r}")
            elif not low <= value <= high:
                problems.append(f"ai_vad_config.{name} must be between {low:g} and {high:g}, got {value!r}")
        if problems:
            raise VadConfigError("; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> VadConfig:
        """Build from JSON: missing or null fields take their defaults, unknown keys are errors."""
        if data is None:
            return cls()
        unknown = sorted(set(data) - set(_RANGES))
        if unknown:
            known = ", ".join(_RANGES)
            raise VadConfigError(f"ai_vad_config has unknown field(s) {', '.join(unknown)}; known: {known}")
        values = {name: data[name] for name in _RANGES if data.get(name) is not None}
        return cls(**values)

    @property
    def start_frames(self) -> int:
        return max(1, round(self.start_secs * 1000 / FRAME_MS))

    @property
    def stop_frames(self) -> int:
        return max(1, round(self.stop_secs * 1000 / FRAME_MS))


class VadState(enum.Enum):
    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class VadEvent:
    """A state change, decided at the end of the frame ending at `t_ms` (stream time)."""

    t_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStarted(VadEvent):
    """STARTING lasted `start_secs`: the caller speaks since `start_ms`."""

    start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopping(VadEvent):
    """SPEAKING -> STOPPING: voice stopped at `end_ms`. Start STT now, speculatively."""

    end_ms: int


@dataclass(frozen=True, slots=True)
class SpeechResumed(VadEvent):
    """STOPPING -> SPEAKING: the caller went on; discard any STT started at SpeechStopping."""


@dataclass(frozen=True, slots=True)
class SpeechEnded(VadEvent):
    """STOPPING lasted `stop_secs`: the utterance spans `start_ms`..`end_ms`."""

    start_ms: int
    end_ms: int


class VadBackend(Protocol):
    """Scores one 20 ms frame at `sample_rate`: speech confidence in 0..1.

    `raw` is the same frame as native-endian bytes when the caller has them at hand.
    `volume_first`: frames below `min_volume` may skip the backend (they cannot be voiced);
    false for backends that must see every frame of the stream.
    """

    sample_rate: int
    volume_first: bool

    def confidence(self, pcm: Pcm, raw: bytes | memoryview | None = None) -> float: ...

    def reset(self) -> None: ...


def mean_square(pcm: Pcm) -> float:
    samples = pcm.astype(np.float32)
    return float(np.dot(samples, samples)) / max(1, len(samples))


def volume(pcm: Pcm) -> float:
    """Loudness of a frame on the 0..1 scale of `min_volume` (see `_VOLUME_OFFSET_DB`)."""
    power = mean_square(pcm)
    if power <= 1.0:
        return 0.0
    loudness = 10.0 * math.log10(power) + _VOLUME_OFFSET_DB
    return min(1.0, max(0.0, loudness / _VOLUME_RANGE_DB))


def volume_threshold(min_volume: float) -> float:
    """The mean square (int16 scale) at which `volume()` reaches `min_volume`."""
    if min_volume <= 0.0:
        return 0.0
    return float(10.0 ** ((min_volume * _VOLUME_RANGE_DB - _VOLUME_OFFSET_DB) / 10.0))


_NO_EVENTS: tuple[VadEvent, ...] = ()


class VadAnalyzer:
    """Pipecat's VAD state machine over 20 ms frames, with timestamped events.

    A frame is voiced when the backend's confidence reaches `confidence` and its volume
    reaches `min_volume`. `process(pcm)` does both for one frame; the batched inbound path
    computes every session's frame power in one numpy call and uses `voiced()` + `update()`.
    """

    def __init__(self, backend: VadBackend, config: VadConfig | None = None) -> None:
        self.backend = backend
        self.config = config or VadConfig()
        self._start_frames = self.config.start_frames
        self._stop_frames = self.config.stop_frames
        # Frames whose mean square is below `min_power` are never voiced; with a
        # `volume_first` backend they are not even scored (the batched path skips them).
        self.min_power = volume_threshold(self.config.min_volume)
        self.volume_first = backend.volume_first
        self._confidence = self.config.confidence
        self.state = VadState.QUIET
        self._count = 0
        self._frame = 0
        self._start_ms = 0
        self._end_ms = 0
        self._speech_start_ms = 0

    @property
    def starting(self) -> bool:
        """Voice heard but not yet for `start_secs`: speech may be beginning (or a click that will not last)."""
        return self.state is VadState.STARTING

    @property
    def t_ms(self) -> int:
        """Stream time analysed so far."""
        return self._frame * FRAME_MS

    def reset(self) -> None:
        self.backend.reset()
        self.state = VadState.QUIET
        self._count = 0

    def voiced(self, pcm: Pcm, power: float | None = None, raw: bytes | memoryview | None = None) -> bool:
        """Speech by the backend and loud enough; `power` is the frame's mean square if known."""
        backend = self.backend
        if self.volume_first:
            if power is None:
                power = mean_square(pcm)
            if power < self.min_power:
                return False
            return backend.confidence(pcm, raw) >= self._confidence
        if backend.confidence(pcm, raw) < self._confidence:
            return False
        if power is None:
            power = mean_square(pcm)
        return power >= self.min_power

    def process(self, pcm: Pcm) -> tuple[VadEvent, ...]:
        """Analyse the next 20 ms frame; returns the events it caused (usually none)."""
        return self.update(self.voiced(pcm))

    def update(self, voiced: bool) -> tuple[VadEvent, ...]:
        """Advance the state machine by one 20 ms frame."""
        state = self.state
        if not voiced and state is VadState.QUIET:
            # Most frames of a call: nothing to decide.
            self._frame += 1
            return _NO_EVENTS
        begin = self._frame * FRAME_MS
        self._frame += 1
        end = begin + FRAME_MS
        if voiced:
            if state is VadState.SPEAKING:
                return _NO_EVENTS
            if state is VadState.QUIET:
                self.state = VadState.STARTING
                self._count = 1
                self._start_ms = begin
            elif state is VadState.STARTING:
                self._count += 1
            else:  # STOPPING
                self.state = VadState.SPEAKING
                self._count = 0
                return (SpeechResumed(end),)
            if self._count >= self._start_frames:
                self.state = VadState.SPEAKING
                self._count = 0
                self._speech_start_ms = self._start_ms
                return (SpeechStarted(end, self._start_ms),)
            return _NO_EVENTS
        if state is VadState.QUIET:
            return _NO_EVENTS
        if state is VadState.STARTING:
            self.state = VadState.QUIET
            self._count = 0
            return _NO_EVENTS
        events: tuple[VadEvent, ...] = _NO_EVENTS
        if state is VadState.SPEAKING:
            self.state = VadState.STOPPING
            self._count = 1
            self._end_ms = begin
            events = (SpeechStopping(end, begin),)
        else:
            self._count += 1
        if self._count >= self._stop_frames:
            self.state = VadState.QUIET
            self._count = 0
            events = (*events, SpeechEnded(end, self._speech_start_ms, self._end_ms))
        return events

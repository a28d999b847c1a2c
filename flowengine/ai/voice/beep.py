"""Answering-machine beep detection with scipy: a steady tone between 800 and 2000 Hz lasting >= ~150 ms.

Each 20 ms frame is analysed over the last 40 ms (Hann window, 25 Hz resolution). A frame is *tonal*
when it is loud enough, its spectral peak lies in the beep band, the peak's +-2 bins hold most of the
energy (`min_tonality`; voiced speech spreads its energy over many harmonics and formants), and the
peak stays within `max_drift_hz` of the previous frame's. A run of tonal frames of at least `min_ms`
is a beep; it is reported when the run ends (the beep's end is when the message may start)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft, signal

SAMPLE_RATE = 16000
FRAME = 320  # 20 ms
WINDOW = 2 * FRAME  # 40 ms analysed per frame


@dataclass(frozen=True)
class Beep:
    start_ms: int
    end_ms: int
    frequency_hz: float

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class BeepSettings:
    low_hz: float = 800.0
    high_hz: float = 2000.0
    min_ms: int = 140  # "~150 ms": 7 frames of 20 ms
    max_ms: int = 5000  # longer is a dial tone or a fax, not a beep
    min_rms: float = 300.0  # about -40 dBFS
    min_tonality: float = 0.6
    max_drift_hz: float = 40.0


class BeepDetector:
    """Feed 20 ms frames of PCM16 16 kHz with their stream time; `push` returns a Beep once one ended."""

    def __init__(self, settings: BeepSettings | None = None) -> None:
        self.settings = settings or BeepSettings()
        self._window = signal.get_window("hann", WINDOW).astype(np.float64)
        self._freqs = fft.rfftfreq(WINDOW, 1 / SAMPLE_RATE)
        s = self.settings
        self._band = (self._freqs >= s.low_hz) & (self._freqs <= s.high_hz)
        self._previous = np.zeros(FRAME, dtype=np.float64)
        self._run_start: int | None = None
        self._run_end = 0
        self._run_freqs: list[float] = []
        self._last_freq = 0.0

    def tone(self, pcm: np.ndarray) -> float | None:
        """The frequency of a steady in-band tone filling this 20 ms frame (with the previous one), or None."""
        current = pcm.astype(np.float64)
        samples = np.concatenate([self._previous, current])
        self._previous = current
        s = self.settings
        if np.sqrt(np.mean(current**2)) < s.min_rms:
            return None
        power = np.abs(fft.rfft(samples * self._window)) ** 2
        total = float(power.sum())
        if total <= 0:
            return None
        peak = int(np.argmax(np.where(self._band, power, 0.0)))
        if not self._band[peak]:
            return None
        around = float(power[max(0, peak - 2): peak + 3].sum())
        if around / total < s.min_tonality:
            return None
        # parabolic interpolation of the peak for a finer frequency than the 25 Hz bins
        if 0 < peak < power.size - 1:
            a, b, c = np.log(power[peak - 1: peak + 2] + 1e-12)
            shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        else:
            shift = 0.0
        return float((peak + shift) * SAMPLE_RATE / WINDOW)

    def push(self, pcm: np.ndarray, t_ms: int) -> Beep | None:
        freq = self.tone(pcm)
        s = self.settings
        steady = freq is not None and (self._run_start is None or abs(freq - self._last_freq) <= s.max_drift_hz)
        if freq is not None and steady:
            if self._run_start is None:
                self._run_start, self._run_freqs = t_ms, []
            self._run_end = t_ms + 20
            self._run_freqs.append(freq)
            self._last_freq = freq
            return None
        beep = self._close_run()
        if freq is not None:  # a new tone started right away (frequency jump)
            self._run_start, self._run_end, self._run_freqs, self._last_freq = t_ms, t_ms + 20, [freq], freq
        return beep

    def flush(self) -> Beep | None:
        """The beep still sounding at the end of the audio, if long enough."""
        return self._close_run()

    def _close_run(self) -> Beep | None:
        start, self._run_start = self._run_start, None
        if start is None:
            return None
        length = self._run_end - start
        if self.settings.min_ms <= length <= self.settings.max_ms:
            return Beep(start, self._run_end, float(np.median(self._run_freqs)))
        return None


def find_beeps(pcm: np.ndarray, settings: BeepSettings | None = None) -> list[Beep]:
    """Every beep in a whole recording (PCM16 mono 16 kHz): for tests and offline checks."""
    detector = BeepDetector(settings)
    beeps = []
    for i in range(pcm.size // FRAME):
        beep = detector.push(pcm[i * FRAME:(i + 1) * FRAME], i * 20)
        if beep is not None:
            beeps.append(beep)
    last = detector.flush()
    return beeps + ([last] if last is not None else [])

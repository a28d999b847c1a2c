"""Noise suppression of one utterance before the batch recogniser: a decision-directed spectral gain on the telephone band, the noise estimated from the utterance's own quietest frames."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

RATE = 16_000
FRAME = 512  # 32 ms: the noise's spectrum is resolved to 31 Hz
HOP = FRAME // 2  # a square-root Hann window at 50 % overlap adds back to the input exactly
BAND_HZ = 4000  # a phone line (8 kHz) carries nothing above; bins above are left as they are
EPS = 1e-12

Rule = Literal["wiener", "mmse", "logmmse"]


@dataclass(frozen=True)
class Denoiser:
    """`quiet_fraction` of the frames (the quietest by band power) are taken as noise; `alpha` weighs the previous
    frame's clean estimate in the a priori SNR (Ephraim-Malah's decision-directed rule: high values keep musical
    noise down); the gain never drops under `floor`; `noise_weight` scales the noise estimate the gain is computed
    from (under 1: gentler, fewer of the artefacts Whisper trips on); `engage_below_db`: the utterance is left as
    it is when its estimated SNR is at or above this (None: always suppress), or when it is shorter than
    `engage_min_s` (the quietest frames of a short word are the word itself: a clean "Monday." reads as 14 dB).
    Defaults: the best measured on the caller corpus (docs/decisions.md, "Noise suppression before the recogniser")."""

    rule: Rule = "wiener"
    floor: float = 0.3
    alpha: float = 0.98
    quiet_fraction: float = 0.1
    noise_weight: float = 0.5
    engage_below_db: float | None = 15.0
    engage_min_s: float = 1.0

    def __call__(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """`audio`: float32 mono 16 kHz; the same length back (the input itself when left as it is)."""
        frames = _frames(audio)
        if frames is None:
            return audio
        spectra = np.fft.rfft(frames * _WINDOW, axis=1)
        band = int(BAND_HZ * FRAME / RATE) + 1
        power = np.abs(spectra[:, :band]) ** 2
        noise = noise_psd(power, self.quiet_fraction)
        if self.engage_below_db is not None and (
                audio.size < self.engage_min_s * RATE or snr_db(power, noise) >= self.engage_below_db):
            return audio
        gains = self.gains(power, noise * self.noise_weight)
        spectra[:, :band] *= gains
        return _overlap_add(np.fft.irfft(spectra, FRAME, axis=1) * _WINDOW, audio.size)

    def gains(self, power: npt.NDArray[np.float64], noise: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per frame and bin: the spectral gain, frame by frame (the a priori SNR depends on the last frame's)."""
        gamma = np.minimum(power / noise, 1e4)  # a posteriori SNR
        gains = np.empty_like(power)
        last = np.ones(power.shape[1])  # |previous clean estimate|^2 / noise
        for t in range(power.shape[0]):
            xi = np.maximum(self.alpha * last + (1 - self.alpha) * np.maximum(gamma[t] - 1, 0), 10 ** (-25 / 10))
            gain = _gain(self.rule, xi, gamma[t])
            gains[t] = np.maximum(gain, self.floor)
            last = gain**2 * gamma[t]
        return gains

    def estimate_snr_db(self, audio: npt.NDArray[np.float32]) -> float:
        """The utterance's SNR as this denoiser estimates it (inf for digital silence around the speech)."""
        frames = _frames(audio)
        if frames is None:
            return float("inf")
        band = int(BAND_HZ * FRAME / RATE) + 1
        power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)[:, :band]) ** 2
        return snr_db(power, noise_psd(power, self.quiet_fraction))


def noise_psd(power: npt.NDArray[np.float64], quiet_fraction: float) -> npt.NDArray[np.float64]:
    """The mean spectrum of the quietest frames (at least 3): the pauses between words, or the weakest sounds."""
    count = max(3, round(power.shape[0] * quiet_fraction))
    quietest = np.argsort(power.sum(axis=1))[:count]
    return np.asarray(np.maximum(power[quietest].mean(axis=0), EPS), dtype=np.float64)


def snr_db(power: npt.NDArray[np.float64], noise: npt.NDArray[np.float64]) -> float:
    """Speech over noise in the band, the speech's power taken over the frames well above the noise (as the
    corpus measures it, over voiced frames)."""
    totals = power.sum(axis=1)
    floor = float(noise.sum())
    if floor <= EPS * noise.size:
        return float("inf")
    loud = totals[totals > 2 * floor]
    if loud.size == 0:
        return 0.0
    return float(10 * np.log10(max(float(loud.mean()) - floor, EPS) / floor))


def _gain(rule: Rule, xi: npt.NDArray[np.float64], gamma: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    wiener = xi / (1 + xi)
    if rule == "wiener":
        return wiener
    from scipy import special

    v = np.maximum(wiener * gamma, EPS)
    if rule == "logmmse":
        return np.asarray(wiener * np.exp(0.5 * special.exp1(v)))
    # MMSE-STSA; i0e/i1e carry the exp(-v/2) that would overflow the Bessel functions
    gain = np.sqrt(np.pi * v) / (2 * np.maximum(gamma, EPS)) * ((1 + v) * special.i0e(v / 2) + v * special.i1e(v / 2))
    return np.asarray(np.minimum(gain, 1.0))


_WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME))  # periodic: w^2 sums to 1 at 50 %


def _frames(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float64] | None:
    """Overlapping frames covering every sample twice; the ends mirrored (zeros would pass for silence)."""
    if audio.size < 4 * FRAME:
        return None  # too short (~130 ms) to tell noise from speech
    hops = -(-audio.size // HOP) + 1
    padded = np.pad(audio.astype(np.float64), (HOP, hops * HOP + HOP - audio.size - HOP), mode="reflect")
    index = np.arange(FRAME)[None, :] + HOP * np.arange(hops)[:, None]
    return np.asarray(padded[index], dtype=np.float64)


def _overlap_add(frames: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float32]:
    out = np.zeros((frames.shape[0] + 1) * HOP)
    for t, frame in enumerate(frames):
        out[t * HOP: t * HOP + FRAME] += frame
    return out[HOP: HOP + length].astype(np.float32)

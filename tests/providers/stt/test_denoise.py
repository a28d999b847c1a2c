"""Noise suppression before the batch recogniser: noise goes down, speech and silence stay, lengths are kept."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from flowengine.providers.stt.denoise import RATE, Denoiser

ALWAYS = Denoiser(engage_below_db=None)


def _speech_like(seconds: float = 2.0, seed: int = 0) -> npt.NDArray[np.float64]:
    """Voiced syllables: a harmonic tone with a gliding pitch, four syllables a second, with short gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 20) if k * 200 < 3400)
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return np.asarray(0.1 * voice * syllables, dtype=np.float64)


def _phone_noise(size: int, seed: int) -> npt.NDArray[np.float64]:
    """White noise cut to what a phone line carries (under 4 kHz)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(size))
    spectrum[np.fft.rfftfreq(size, 1 / RATE) >= 4000] = 0
    return np.fft.irfft(spectrum, size)


def _noisy(clean: npt.NDArray[np.float64], snr_db: float, seed: int = 1) -> npt.NDArray[np.float32]:
    noise = _phone_noise(clean.size, seed)
    speech_power = float(np.mean(clean[np.abs(clean) > 0] ** 2))
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / float(np.mean(noise**2)))
    return (clean + noise).astype(np.float32)


def _snr_db(signal: npt.NDArray[np.float32], clean: npt.NDArray[np.float64]) -> float:
    """Of `signal` against `clean`, after the best scaling of `clean` (a gain is not an error)."""
    scale = float(signal @ clean / (clean @ clean))
    error = signal - scale * clean
    return float(10 * np.log10(scale**2 * (clean @ clean) / (error @ error)))


@pytest.mark.parametrize("rule", ["wiener", "mmse", "logmmse"])
def test_noise_at_10_db_comes_out_lower(rule: str) -> None:
    clean = _speech_like()
    noisy = _noisy(clean, 10.0)
    before = _snr_db(noisy, clean)
    after = _snr_db(Denoiser(rule=rule, engage_below_db=None)(noisy), clean)  # type: ignore[arg-type]
    assert after > before + 3, (before, after)


def test_the_utterances_snr_is_estimated_near_the_truth() -> None:
    clean = _speech_like()
    for snr in (5.0, 10.0, 20.0):
        assert abs(ALWAYS.estimate_snr_db(_noisy(clean, snr)) - snr) < 4, snr
    assert ALWAYS.estimate_snr_db(clean.astype(np.float32)) > 40


def test_clean_speech_is_left_as_it_is() -> None:
    clean = _speech_like().astype(np.float32)
    assert Denoiser()(clean) is clean  # the rule: a clean utterance is not touched
    # and even when forced, a clean signal comes back nearly unchanged (errors 40 dB under it)
    assert _snr_db(ALWAYS(clean), clean.astype(np.float64)) > 40


def test_the_rule_engages_on_noisy_speech_only() -> None:
    clean = _speech_like()
    noisy = _noisy(clean, 10.0)
    assert Denoiser(engage_below_db=15.0)(noisy) is not noisy
    quiet_noise = _noisy(clean, 30.0)
    assert Denoiser(engage_below_db=15.0)(quiet_noise) is quiet_noise
    # a word alone is too short to tell its quietest frames from noise: left as it is unless forced
    word = _noisy(_speech_like(0.8), 10.0)
    assert Denoiser()(word) is word
    assert ALWAYS(word) is not word


def test_silence_stays_silence() -> None:
    silence = np.zeros(RATE, dtype=np.float32)
    assert not np.any(ALWAYS(silence))
    hiss = (_phone_noise(RATE, 2) * 1e-2).astype(np.float32)  # noise alone, no speech
    out = ALWAYS(hiss)
    assert float(np.sqrt(np.mean(out**2))) <= float(np.sqrt(np.mean(hiss**2))) * 0.5


@pytest.mark.parametrize("length", [0, 100, 2047, 2048, 2049, 16000, 16001, 33333])
def test_lengths_and_type_are_kept(length: int) -> None:
    audio = _noisy(_speech_like(3.0), 10.0)[:length]
    out = ALWAYS(audio)
    assert out.shape == audio.shape
    assert out.dtype == np.float32


async def test_whisper_suppresses_noise_unless_told_not_to() -> None:
    from flowengine.bench.corpus import VOICES, Line, over_the_line, render
    from flowengine.providers.stt.whisper import WhisperSTT

    seen: list[int] = []

    class Counted(Denoiser):
        def __call__(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            seen.append(audio.size)
            return super().__call__(audio)

    pcm = over_the_line(render(Line("My name is Alex Morgan."), VOICES[0], 10.0))
    heard = await WhisperSTT(denoise=Counted(engage_below_db=None)).transcribe(pcm)
    assert seen == [pcm.size]
    assert heard.audio_ms == pcm.size * 1000 // RATE
    await WhisperSTT(denoise=False).transcribe(pcm)
    assert seen == [pcm.size]
    assert isinstance(WhisperSTT()._denoise, Denoiser)  # on by default

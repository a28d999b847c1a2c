"""Shared helpers of the media tests: fixture paths, speech audio, a warning-free audioop."""
from __future__ import annotations

import types
import warnings
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "media"


def read_wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16), wav.getframerate()


@pytest.fixture(scope="session")
def audioop() -> types.ModuleType:
    # Deprecated on 3.11 (removed in 3.13): the tests use it only as the reference.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop as module
    return module


@pytest.fixture(scope="session")
def speech_8k() -> npt.NDArray[np.int16]:
    """About 3.6 s of espeak-ng speech at 8 kHz (tests/fixtures/media/speech_8k.wav)."""
    pcm, rate = read_wav(FIXTURES / "speech_8k.wav")
    assert rate == 8000
    return pcm


def tone(freq: float, seconds: float, rate: int, amplitude: float = 8000.0) -> npt.NDArray[np.int16]:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def dominant_frequency(pcm: npt.NDArray[np.int16], rate: int) -> float:
    from scipy import signal

    freqs, power = signal.welch(pcm.astype(np.float64), fs=rate, nperseg=min(len(pcm), 4096))
    return float(freqs[int(np.argmax(power))])

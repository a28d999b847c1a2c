"""Streaming resampler: streamed output equals one-shot output, at every supported rate."""
from __future__ import annotations

import numpy as np
import pytest

from flowengine.media.resample import Resampler, resample

from .conftest import dominant_frequency, tone

RNG = np.random.default_rng(3)


def signal(rate: int, seconds: float = 1.5) -> np.ndarray:
    noise = RNG.standard_normal(int(rate * seconds)) * 3000
    return np.clip(noise + tone(440, seconds, rate, 12000), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(
    ("in_rate", "out_rate"),
    [(8000, 16000), (16000, 8000), (22050, 16000), (24000, 16000), (22050, 8000), (24000, 8000), (16000, 16000)],
)
@pytest.mark.parametrize("chunk_ms", [20, 7, 100])
def test_streamed_equals_one_shot(in_rate: int, out_rate: int, chunk_ms: int) -> None:
    x = signal(in_rate)
    resampler = Resampler(in_rate, out_rate)
    step = in_rate * chunk_ms // 1000
    parts = [resampler.process(x[i : i + step]) for i in range(0, len(x), step)]
    parts.append(resampler.flush())
    streamed = np.concatenate(parts)
    assert streamed.dtype == np.int16
    np.testing.assert_array_equal(streamed, resample(x, in_rate, out_rate))


def test_float_path_equals_int_path() -> None:
    x = signal(8000)
    a, b = Resampler(8000, 16000), Resampler(8000, 16000)
    out_a = np.concatenate([a.process(x[i : i + 160]) for i in range(0, len(x), 160)] + [a.flush()])
    out_b = np.concatenate([b.process_float(x[i : i + 160].astype(np.float32)) for i in range(0, len(x), 160)] + [b.flush()])
    np.testing.assert_array_equal(out_a, out_b)


def test_output_keeps_frequency_and_length() -> None:
    x = tone(1000, 1.0, 24000)
    y = resample(x, 24000, 8000)
    assert len(y) == 8000
    assert dominant_frequency(y, 8000) == pytest.approx(1000, abs=10)


def test_full_scale_input_is_clipped_not_wrapped() -> None:
    x = np.tile(np.array([32767, -32768], dtype=np.int16), 4000)
    y = resample(x, 16000, 8000)
    assert y.dtype == np.int16
    assert np.abs(y.astype(int)).max() <= 32768


def test_pending_samples_and_flush_reset_the_stream() -> None:
    resampler = Resampler(8000, 16000)
    x = signal(8000, 0.2)
    produced = sum(len(resampler.process(x[i : i + 160])) for i in range(0, len(x), 160))
    assert produced + resampler.pending_samples == 2 * len(x)
    assert resampler.pending_samples > 0
    tail = resampler.flush()
    assert produced + len(tail) == 2 * len(x)
    assert resampler.pending_samples == 0


def test_unsupported_rate_and_quality() -> None:
    with pytest.raises(ValueError) as excinfo:
        Resampler(11025, 16000)
    assert str(excinfo.value) == "unsupported sample rate 11025; expected one of: 8000, 16000, 22050, 24000, 44100, 48000"
    with pytest.raises(ValueError, match="unknown resampler quality 'best'"):
        Resampler(8000, 16000, quality="best")

"""Whisper's features on a short window: only the frames that see the audio are computed, the silent rest is
copied, and the result is the full computation's up to float rounding (the encoder sees the same input)."""
from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor  # type: ignore[import-untyped]

from flowengine.bench.corpus import VOICES, lines, over_the_line, render
from flowengine.providers.stt.whisper_decode import HOP, log_mel


class Model:
    """What log_mel needs of a WhisperModel: its feature extractor (tiny.en's: 80 mel bands)."""

    feature_extractor = FeatureExtractor(feature_size=80)


def full(audio: np.ndarray, frames: int) -> np.ndarray:
    """The reference: the audio padded with a whole window of zeros, every frame computed."""
    padded = np.concatenate([audio, np.zeros(frames * HOP, dtype=np.float32)])
    return Model.feature_extractor(padded, chunk_length=None)[:, :frames]


@pytest.mark.parametrize("frames", [500, 1000, 3000])
def test_features_of_a_corpus_line_match_the_full_computation(frames: int) -> None:
    line = next(line for line in lines() if line.said.startswith("Next Tuesday"))
    audio = over_the_line(render(line, VOICES[0], 10.0)).astype(np.float32) / 32768
    quick = log_mel(Model(), audio, frames)
    reference = full(audio, frames)
    assert quick.shape == reference.shape == (80, frames)
    assert quick.dtype == np.float32 and quick.flags.c_contiguous
    np.testing.assert_allclose(quick, reference, rtol=0, atol=1e-5)
    spoken = len(audio) // HOP
    assert np.ptp(quick[:, spoken + 3:]) == 0  # the silence after the speech is one value


def test_audio_longer_than_the_window_is_cut_as_before() -> None:
    audio = np.random.default_rng(1).normal(0, 0.1, 16000 * 6).astype(np.float32)
    np.testing.assert_allclose(log_mel(Model(), audio, 500), full(audio, 500), rtol=0, atol=1e-5)


def test_silence_alone_is_the_floor_everywhere() -> None:
    quick = log_mel(Model(), np.zeros(1600, dtype=np.float32), 500)
    np.testing.assert_array_equal(quick, full(np.zeros(1600, dtype=np.float32), 500))

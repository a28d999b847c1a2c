"""The caller corpus: renders are deterministic, on the telephone band, at the SNR asked, with their pauses."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from flowengine.bench import corpus
from flowengine.bench.corpus import RATE, Line, render

PAUSED = Line("My name is | Sam Taylor.", pause_ms=500)


def _fresh(line: Line, voice: corpus.Voice, snr_db: float | None = None) -> npt.NDArray[np.int16]:
    corpus._speak_cached.cache_clear()  # espeak-ng and sox run again
    return render(line, voice, snr_db)


def test_the_same_line_renders_to_the_same_samples_every_time() -> None:
    for voice in corpus.VOICES[:3]:
        first = _fresh(PAUSED, voice, 10.0)
        assert np.array_equal(first, _fresh(PAUSED, voice, 10.0)), voice.name
    # and different voices, noise levels, lines do differ
    assert not np.array_equal(render(PAUSED, corpus.VOICES[0]), render(PAUSED, corpus.VOICES[1]))
    assert not np.array_equal(render(PAUSED, corpus.VOICES[0], 20.0), render(PAUSED, corpus.VOICES[0], 10.0))


def test_a_line_said_again_is_the_same_voice_in_other_noise() -> None:
    voice = corpus.VOICES[0]
    again = replace(PAUSED, take=1)
    assert np.array_equal(render(again, voice), render(PAUSED, voice))  # clean: espeak-ng says it alike
    first, second = render(PAUSED, voice, 10.0), render(again, voice, 10.0)
    assert first.shape == second.shape and not np.array_equal(first, second)
    assert np.array_equal(second, render(replace(PAUSED, take=1), voice, 10.0))  # each take is deterministic
    # the speech is the same: the difference is noise at about the SNR asked (10 dB below the speech)
    speech = render(PAUSED, voice).astype(np.float64)
    diff = (first.astype(np.float64) - second) / np.sqrt(2)
    assert 5 < 10 * np.log10(np.mean(speech**2) / np.mean(diff**2)) < 15


@pytest.mark.parametrize("snr_db", [None, 10.0])
def test_renders_stay_in_the_telephone_band(snr_db: float | None) -> None:
    line = Line("Next Tuesday please, at ten in the morning.")
    for voice in corpus.VOICES:
        pcm = render(line, voice, snr_db).astype(np.float64)
        power = np.abs(np.fft.rfft(pcm)) ** 2
        freqs = np.fft.rfftfreq(pcm.size, 1 / RATE)
        total = power.sum()
        # below 200 Hz and above 3.7 kHz the line carries nothing: under -30 dB of the whole
        assert power[freqs < 200].sum() / total < 1e-3, voice.name
        assert power[freqs > 3700].sum() / total < 1e-3, voice.name


@pytest.mark.parametrize("snr_db", [20.0, 10.0])
def test_noise_is_added_at_the_snr_asked(snr_db: float) -> None:
    line = Line("I would like to book an appointment.")
    for voice in corpus.VOICES[:4]:
        clean = render(line, voice).astype(np.float64)
        noisy = render(line, voice, snr_db).astype(np.float64)
        scale = float(noisy @ clean / (clean @ clean))  # the noisy render may have been scaled down at its peak
        noise = noisy - scale * clean
        frames = (scale * clean)[: clean.size - clean.size % 320].reshape(-1, 320)
        power = (frames**2).mean(axis=1)
        speech = power[power > power.max() * 1e-3].mean()  # over the voiced 20 ms frames, as SNR is defined here
        measured = 10 * np.log10(speech / np.mean(noise**2))
        assert abs(measured - snr_db) <= 1.0, (voice.name, measured)


def test_a_pause_mid_thought_is_silence_of_the_length_asked() -> None:
    for voice in corpus.VOICES:
        pcm = render(PAUSED, voice).astype(np.float64)
        step = RATE // 100
        rms = np.sqrt((pcm[: pcm.size - pcm.size % step].reshape(-1, step) ** 2).mean(axis=1))
        quiet = rms < 100
        voiced = np.flatnonzero(~quiet)
        inner = quiet[voiced[0]: voiced[-1]]
        longest = run = 0
        for q in inner:
            run = run + 1 if q else 0
            longest = max(longest, run)
        assert PAUSED.pause_ms - 20 <= longest * 10 <= PAUSED.pause_ms + 200, (voice.name, longest * 10)
        # and without pause marks there is no such silence
        whole = render(Line(PAUSED.said), voice).astype(np.float64)
        rms = np.sqrt((whole[: whole.size - whole.size % step].reshape(-1, step) ** 2).mean(axis=1))
        run = longest = 0
        for q in rms < 100:
            run = run + 1 if q else 0
            longest = max(longest, run)
        assert longest * 10 < 300, voice.name

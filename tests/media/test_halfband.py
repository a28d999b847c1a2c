"""Half-band 8 -> 16 kHz: exact copies on one phase, telephone-band response, streamed == batched == one-shot."""
from __future__ import annotations

import numpy as np
import pytest

from flowengine.media import blas
from flowengine.media.codecs import get_codec
from flowengine.media.halfband import COPY_DELAY, HISTORY, Upsampler, upsample
from flowengine.media.inbound import InboundBatch, Receiver

from .conftest import dominant_frequency, tone

RNG = np.random.default_rng(11)


def noise(samples: int) -> np.ndarray:
    return np.clip(RNG.standard_normal(samples) * 6000, -32768, 32767).astype(np.int16)


def test_every_other_output_sample_is_an_input_sample() -> None:
    x = noise(8000)
    y = upsample(x)
    assert len(y) == 2 * len(x) and y.dtype == np.int16
    np.testing.assert_array_equal(y[1::2][COPY_DELAY:], x[: len(x) - COPY_DELAY])


def test_telephone_band_passes_and_images_are_rejected() -> None:
    impulse = np.zeros(4000, dtype=np.int16)
    impulse[100] = 16384
    response = upsample(impulse).astype(np.float64) / 16384 / 2  # zero-stuffing halves the gain
    gain_db = 20 * np.log10(np.abs(np.fft.rfft(response, 16000)) + 1e-12)  # 1 Hz per bin
    assert np.abs(gain_db[100:3401]).max() < 0.05
    assert gain_db[4600:8001].max() < -60


def test_tone_keeps_frequency_and_level() -> None:
    y = upsample(tone(1000, 1.0, 8000, 10000))
    assert dominant_frequency(y, 16000) == pytest.approx(1000, abs=8)
    assert np.abs(y[1000:]).max() == pytest.approx(10000, rel=0.01)


@pytest.mark.parametrize("chunk", [160, 7, 1000])
def test_streamed_equals_one_shot(chunk: int) -> None:
    x = noise(8000 * 2)
    upsampler = Upsampler()
    streamed = np.concatenate([upsampler.process(x[i : i + chunk]) for i in range(0, len(x), chunk)])
    np.testing.assert_array_equal(streamed, upsample(x))


def test_full_scale_is_clipped_not_wrapped() -> None:
    x = np.tile(np.array([32767, 32767, -32768, -32768], dtype=np.int16), 400)
    y = upsample(x)
    assert y.min() == -32768 and y.max() == 32767


@pytest.mark.parametrize("use_native", [True, False], ids=["native", "numpy"])
@pytest.mark.parametrize("codec_name", ["ulaw", "alaw"])
def test_batched_path_equals_one_shot_for_every_stream(use_native: bool, codec_name: str) -> None:
    # Three streams whose frames arrive unevenly over the ticks (0, 1 or 2 per tick), decoded
    # in groups as the inbound batch does: each stream's output equals its one-shot result.
    codec = get_codec(codec_name)
    batch = InboundBatch(use_native=use_native)
    signals = [codec.decode(codec.encode(noise(160 * 30))) for _ in range(3)]
    heard: list[list[np.ndarray]] = [[], [], []]
    receivers = []
    for k in range(3):
        receiver = Receiver(codec, batch, on_audio=lambda f, k=k: heard[k].append(f.pcm))
        receivers.append(receiver)
    assert len({r.history_slot for r in receivers}) == 3
    sent = [0, 0, 0]
    pattern = [[1, 2, 0], [2, 0, 1], [1, 1, 1], [0, 2, 2]]
    tick = 0
    while min(sent) < 30 and tick < 100:
        for k, receiver in enumerate(receivers):
            for _ in range(pattern[tick % 4][k]):
                if sent[k] < 30:
                    receiver._queue([codec.encode(signals[k][sent[k] * 160 : (sent[k] + 1) * 160])])
                    sent[k] += 1
        batch.process()
        tick += 1
    for k in range(3):
        np.testing.assert_array_equal(np.concatenate(heard[k]), upsample(signals[k]))
    slot = receivers[0].history_slot
    receivers[0].close()
    assert receivers[0].history_slot is None
    assert batch.allocate_history() == slot
    assert not batch.histories[slot].any()


def test_history_table_grows() -> None:
    batch = InboundBatch()
    rows = {batch.allocate_history() for _ in range(200)}
    assert len(rows) == 200 and len(batch.histories) >= 200
    assert batch.histories.shape[1] == HISTORY


def test_single_threaded_blas_restores_the_setting() -> None:
    assert blas._FUNCS is not None, "numpy's wheels bundle OpenBLAS"
    getter, setter = blas._FUNCS
    before = getter()
    setter(2)
    try:
        with blas.single_threaded():
            assert getter() == 1
        assert getter() == 2
    finally:
        setter(before)


@pytest.mark.parametrize("use_native", [True, False], ids=["native", "numpy"])
def test_a_receiver_listed_with_nothing_pending_keeps_its_filter_state(use_native: bool) -> None:
    # A new SSRC flushes the jitter buffer, which may hold nothing: the receiver is then
    # listed for the tick with no frame, next to others that have one. Its stream must
    # still equal the one-shot result (its filter history must not take another's).
    codec = get_codec("ulaw")
    batch = InboundBatch(use_native=use_native)
    signals = [codec.decode(codec.encode(noise(160 * 6))) for _ in range(2)]
    heard: list[list[np.ndarray]] = [[], []]
    receivers = [Receiver(codec, batch, on_audio=lambda f, k=k: heard[k].append(f.pcm)) for k in range(2)]
    for i in range(6):
        if i == 3:
            receivers[0]._queue([])
        for k, receiver in enumerate(receivers):
            receiver._queue([codec.encode(signals[k][i * 160 : (i + 1) * 160])])
        batch.process()
    for k in range(2):
        np.testing.assert_array_equal(np.concatenate(heard[k]), upsample(signals[k]))

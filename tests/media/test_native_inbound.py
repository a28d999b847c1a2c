"""The C inbound kernel against the numpy path it replaces: same frames, states and powers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from flowengine.media import native
from flowengine.media.codecs import get_codec
from flowengine.media.g711 import ULAW_DECODE
from flowengine.media.halfband import COEFF_BITS, HISTORY, PHASE
from flowengine.media.inbound import InboundBatch, Receiver

SCALE = 1.0 / (1 << COEFF_BITS)


def kernel() -> native.InboundKernel:
    # `pip install` (make deps) builds it; a missing build must fail here, not fall back unseen.
    assert native.inbound is not None, "flowengine/media/_native_inbound.c was not built"
    return native.inbound


def test_the_kernel_is_built_and_used_by_default() -> None:
    assert native.available()
    assert InboundBatch().native is native.inbound
    assert InboundBatch(use_native=False).native is None


@pytest.mark.parametrize("codec_name", ["ulaw", "alaw"])
def test_native_and_numpy_batches_hear_the_same_frames(codec_name: str) -> None:
    # 40 streams of noise, full-scale bursts and silence, 0-3 frames per stream per tick, taken
    # by both batches: every frame and filter state is the same.
    codec = get_codec(codec_name)
    rng = np.random.default_rng(7)
    # One slice per tick, however slow the machine: this test has no event loop to continue a slice on
    # (slicing is tested in test_inbound.py).
    batches = [InboundBatch(group_size=16, slice_seconds=math.inf),
               InboundBatch(group_size=16, slice_seconds=math.inf, use_native=False)]
    heard: list[list[list[np.ndarray]]] = [[[] for _ in range(40)] for _ in batches]
    receivers: list[list[Receiver]] = [[], []]
    for b, batch in enumerate(batches):
        for k in range(40):
            receivers[b].append(Receiver(codec, batch, on_audio=lambda f, b=b, k=k: heard[b][k].append(f.pcm)))
    for _tick in range(60):
        frames = []
        for k in range(40):
            count = int(rng.integers(0, 4))
            kind = rng.integers(0, 3)
            for _ in range(count):
                if kind == 0:
                    payload = rng.integers(0, 256, 160, dtype=np.uint8).tobytes()
                elif kind == 1:
                    payload = bytes([0x80, 0x00, 0x7F, 0xFF]) * 40  # alternating extremes: clips
                else:
                    payload = codec.silence
                frames.append((k, payload))
        for b, batch in enumerate(batches):
            for k, payload in frames:
                receivers[b][k]._queue([payload])
            batch.process()
    for k in range(40):
        assert len(heard[0][k]) == len(heard[1][k]) > 0
        np.testing.assert_array_equal(np.concatenate(heard[0][k]), np.concatenate(heard[1][k]))
    slots = [r.history_slot for r in receivers[0]]
    slots_numpy = [r.history_slot for r in receivers[1]]
    np.testing.assert_array_equal(batches[0].histories[slots], batches[1].histories[slots_numpy])


def test_powers_are_exact_mean_squares() -> None:
    rng = np.random.default_rng(3)
    payloads = rng.integers(0, 256, 3 * 160, dtype=np.uint8).tobytes()
    histories = np.zeros((4, HISTORY))
    pcm = np.empty((3, 160), dtype=np.int16)
    wide = np.empty((3, 320), dtype=np.int16)
    powers = np.empty(3)
    slots = np.array([2, 0, 3], dtype=np.int64)
    kernel().upsample_g711(payloads, ULAW_DECODE, PHASE, SCALE, histories, slots, pcm, wide, powers)
    expected = ULAW_DECODE[np.frombuffer(payloads, dtype=np.uint8)].reshape(3, 160)
    np.testing.assert_array_equal(pcm, expected)
    exact = (expected.astype(np.int64) ** 2).sum(axis=1) / 160
    np.testing.assert_array_equal(powers, exact)
    assert not histories[1].any(), "a slot no row names keeps its state"
    np.testing.assert_array_equal(histories[2], expected[0, -HISTORY:])


def test_bad_arguments_are_refused_by_name() -> None:
    k = kernel()
    histories = np.zeros((2, HISTORY))
    pcm = np.empty((1, 160), dtype=np.int16)
    wide = np.empty((1, 320), dtype=np.int16)
    powers = np.empty(1)
    one = np.array([0], dtype=np.int64)
    payload = b"\xff" * 160
    with pytest.raises(IndexError, match="slot 5 is outside the 2 filter states"):
        k.upsample_g711(payload, ULAW_DECODE, PHASE, SCALE, histories, np.array([5], np.int64), pcm, wide, powers)
    with pytest.raises(ValueError, match="wide holds 320 bytes, needs 640"):
        k.upsample_g711(payload, ULAW_DECODE, PHASE, SCALE, histories, one, pcm, wide[:, :160], powers)
    with pytest.raises(ValueError, match="table must be 256 int16 values"):
        k.upsample_g711(payload, ULAW_DECODE[:100], PHASE, SCALE, histories, one, pcm, wide, powers)
    with pytest.raises(ValueError, match="161 payload bytes do not make 2 equal rows"):
        k.upsample_g711(payload + b"\xff", ULAW_DECODE, PHASE, SCALE, histories, np.array([0, 1], np.int64),
                        pcm, wide, powers)
    with pytest.raises(TypeError):
        k.upsample_g711(payload, ULAW_DECODE, PHASE, SCALE, b"read-only", one, pcm, wide, powers)
    assert k.upsample_g711(b"", ULAW_DECODE, PHASE, SCALE, histories, one[:0], pcm, wide, powers) is None

"""G.711 tables bit-exact with audioop over all inputs; L16; the codec registry."""
from __future__ import annotations

import types

import numpy as np
import pytest

from flowengine.media import g711
from flowengine.media.codecs import (
    CODECS,
    Codec,
    get_codec,
    l16_decode,
    l16_encode,
    register_codec,
)

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_on_all_65536_values(audioop: types.ModuleType) -> None:
    assert g711.ulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM.tobytes(), 2)


def test_ulaw_decode_matches_audioop_on_all_256_codes(audioop: types.ModuleType) -> None:
    assert g711.ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_encode_matches_audioop_on_all_65536_values(audioop: types.ModuleType) -> None:
    assert g711.alaw_encode(ALL_PCM) == audioop.lin2alaw(ALL_PCM.tobytes(), 2)


def test_alaw_decode_matches_audioop_on_all_256_codes(audioop: types.ModuleType) -> None:
    assert g711.alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)


def test_encode_accepts_strided_views(audioop: types.ModuleType) -> None:
    pcm = ALL_PCM[::7]
    assert g711.ulaw_encode(pcm) == audioop.lin2ulaw(pcm.tobytes(), 2)


def test_silence_bytes_decode_to_near_zero() -> None:
    assert g711.ULAW_DECODE[g711.ULAW_SILENCE] == 0
    assert abs(int(g711.ALAW_DECODE[g711.ALAW_SILENCE])) <= 8


def test_l16_is_big_endian() -> None:
    pcm = np.array([1, -2, 0x1234], dtype=np.int16)
    assert l16_encode(pcm) == b"\x00\x01\xff\xfe\x12\x34"
    decoded = l16_decode(b"\x00\x01\xff\xfe\x12\x34")
    assert decoded.dtype == np.int16
    assert decoded.tolist() == [1, -2, 0x1234]


@pytest.mark.parametrize(
    ("name", "payload_type", "rate", "frame_bytes", "samples"),
    [("ulaw", 0, 8000, 160, 160), ("alaw", 8, 8000, 160, 160), ("slin16", 118, 16000, 640, 320)],
)
def test_registry_formats(name: str, payload_type: int, rate: int, frame_bytes: int, samples: int) -> None:
    codec = get_codec(name)
    assert (codec.payload_type, codec.sample_rate, codec.frame_bytes, codec.samples_per_frame) == (
        payload_type,
        rate,
        frame_bytes,
        samples,
    )
    assert len(codec.silence) == frame_bytes
    assert not codec.decode(codec.silence).any() or name == "alaw"
    pcm = (np.sin(np.arange(samples) / 3) * 5000).astype(np.int16)
    decoded = codec.decode(codec.encode(pcm))
    assert decoded.dtype == np.int16 and len(decoded) == samples
    assert np.max(np.abs(decoded.astype(int) - pcm)) <= (0 if name == "slin16" else 160)


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError) as excinfo:
        get_codec("gsm")
    assert str(excinfo.value) == "unknown media format 'gsm'; expected one of: alaw, slin16, ulaw"


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_codec(Codec("ulaw", 0, 8000, 1, g711.ulaw_decode, g711.ulaw_encode, 0xFF))
    assert set(CODECS) == {"ulaw", "alaw", "slin16"}

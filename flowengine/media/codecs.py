"""Codec registry keyed by externalMedia format names: `ulaw`, `alaw` (G.711) and `slin16` (L16)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flowengine.media import g711
from flowengine.media.g711 import Pcm

FRAME_MS = 20
# RFC 3551: payload types from 96 on are dynamic (bound by signalling, not by the RFC).
FIRST_DYNAMIC_PAYLOAD_TYPE = 96


def l16_decode(payload: bytes) -> Pcm:
    """Big-endian 16-bit samples (RFC 3551 L16) to native int16."""
    return np.frombuffer(payload, dtype=">i2").astype(np.int16)


def l16_encode(pcm: Pcm) -> bytes:
    return pcm.astype(">i2").tobytes()


@dataclass(frozen=True, slots=True)
class Codec:
    """One RTP payload format as Asterisk's externalMedia sends it (no negotiation)."""

    name: str
    payload_type: int
    sample_rate: int
    sample_bytes: int
    decode: Callable[[bytes], Pcm]
    encode: Callable[[Pcm], bytes]
    silence_byte: int
    # G.711: the 256 int16 samples of the byte values (lets the native kernel decode).
    decode_table: Pcm | None = None

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate * FRAME_MS // 1000

    @property
    def frame_bytes(self) -> int:
        return self.samples_per_frame * self.sample_bytes

    @property
    def silence(self) -> bytes:
        """One 20 ms frame of encoded silence."""
        return bytes([self.silence_byte]) * self.frame_bytes


CODECS: dict[str, Codec] = {}


def register_codec(codec: Codec) -> None:
    if codec.name in CODECS:
        raise ValueError(f"codec {codec.name!r} is already registered")
    CODECS[codec.name] = codec


def get_codec(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        known = ", ".join(sorted(CODECS))
        raise ValueError(f"unknown media format {name!r}; expected one of: {known}") from None


register_codec(Codec("ulaw", 0, 8000, 1, g711.ulaw_decode, g711.ulaw_encode, g711.ULAW_SILENCE, g711.ULAW_DECODE))
register_codec(Codec("alaw", 8, 8000, 1, g711.alaw_decode, g711.alaw_encode, g711.ALAW_SILENCE, g711.ALAW_DECODE))
# Asterisk's static payload type for slin16 (L16 at 16 kHz, big-endian, 640 bytes per 20 ms).
register_codec(Codec("slin16", 118, 16000, 2, l16_decode, l16_encode, 0))

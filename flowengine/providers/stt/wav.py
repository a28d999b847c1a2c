"""RIFF/WAVE framing of PCM16 mono for recognisers that take a file, or a stream that starts with a header."""
from __future__ import annotations

import struct

OPEN_ENDED = 0xFFFFFFFF  # the length fields of a stream whose end is not known yet (the usual convention)


def wav_header(rate: int, data_bytes: int | None = None) -> bytes:
    """The 44-byte header of 16-bit mono PCM at `rate`; `data_bytes` None: an open-ended stream."""
    data = OPEN_ENDED if data_bytes is None else data_bytes
    riff = OPEN_ENDED if data_bytes is None else 36 + data_bytes
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)  # PCM, mono, rate, byte rate, block align, bits
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + \
        b"data" + struct.pack("<I", data)


def wav_file(pcm: bytes, rate: int) -> bytes:
    """A whole WAV file of 16-bit little-endian mono `pcm`."""
    return wav_header(rate, len(pcm)) + pcm

"""The base of the cloud voices: the vendor's default voice, one retry while nothing was played, and the
bytes-to-PCM step for the telephony formats they answer in (8 kHz mu-law, 16-bit PCM at a rate)."""
from __future__ import annotations

import abc
import base64
from collections.abc import AsyncGenerator, AsyncIterator

import numpy as np

from flowengine.media.g711 import ulaw_decode
from flowengine.providers.cloud import TRANSIENT, CloudClient, RefusedError, TransientError, describe
from flowengine.providers.tts.base import TTSError, TTSProvider

RETRYABLE: tuple[type[BaseException], ...] = (TransientError, *TRANSIENT)
RETRIES = 1  # one more attempt when a request fails before any audio came back; never after (it would repeat)


class CloudTTS(CloudClient, TTSProvider):
    """Subclasses set `vendor`, `name`, `default_voice`, `sample_rate` and implement `_synthesize`, which
    raises TransientError / RefusedError (or lets aiohttp's errors through). Closing the iterator (barge-in)
    must close the vendor's request or socket at once: write `_synthesize` with `async with`."""

    default_voice: str = ""
    sample_rate = 8000

    def __init__(self, **_: object) -> None:
        CloudClient.__init__(self)

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        voice = voice_id or self.default_voice
        for attempt in range(RETRIES + 1):
            played = False
            chunks = self._synthesize(text, voice, language)
            try:
                async for chunk in chunks:
                    if chunk.size:
                        played = True
                        yield chunk
                return
            except RefusedError as exc:
                raise TTSError(str(exc)) from None
            except RETRYABLE as exc:
                if played or attempt == RETRIES:
                    where = "mid-sentence" if played else f"after {attempt + 1} attempts"
                    raise TTSError(f"{self.vendor} voice failed {where}: {describe(exc)}") from None
            finally:
                # when our consumer stops (barge-in), the vendor's request closes now, not when the GC finds it
                close = getattr(chunks, "aclose", None)
                if close is not None:
                    await close()

    @abc.abstractmethod
    def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        """One request: int16 mono chunks at `sample_rate` as the vendor sends them."""


class PcmChunks:
    """Raw audio bytes of any chunking to int16 arrays: mu-law as is, 16-bit little-endian PCM with an odd
    byte carried to the next chunk."""

    def __init__(self, encoding: str) -> None:
        if encoding not in ("mulaw", "s16le"):
            raise ValueError(f"unknown encoding {encoding!r}")
        self.encoding = encoding
        self._odd = b""

    def push(self, data: bytes) -> np.ndarray:
        if self.encoding == "mulaw":
            return ulaw_decode(data)
        data = self._odd + data
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        return np.frombuffer(data[:cut], dtype="<i2").astype(np.int16)


def strip_wav_header(data: bytes) -> bytes:
    """The samples of a RIFF/WAVE file (the `data` chunk's bytes); other bytes as they are."""
    if not (data[:4] == b"RIFF" and data[8:12] == b"WAVE"):
        return data
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if cid == b"data":
            return data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise TTSError("a WAV answer without a data chunk")


def b64_audio(value: object, vendor: str) -> bytes:
    """The bytes of a base64 audio field; TransientError when it is not base64 text (garbage from the vendor)."""
    if not isinstance(value, str):
        raise TransientError(f"{vendor} sent an audio field that is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        raise TransientError(f"{vendor} sent audio that is not base64") from None

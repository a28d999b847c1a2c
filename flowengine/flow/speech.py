"""Speech for `talk`: text -> the catalogue's TTS -> 8 kHz WAV in a cache folder -> a URI Asterisk plays."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import wave
from pathlib import Path

import numpy as np
import soxr

from flowengine.asterisk.media_server import MediaServer
from flowengine.providers.catalogue import TTS
from flowengine.providers.tts.base import TTSProvider

log = logging.getLogger(__name__)

PLAYBACK_RATE = 8000  # Asterisk's .wav: 8 kHz 16-bit mono, the rate of G.711 calls


class SpeechCache:
    """Renders each (voice, text) once; Asterisk fetches the file over HTTP from `server`."""

    def __init__(self, tts: TTSProvider, server: MediaServer) -> None:
        self.tts = tts
        self.server = server
        self.rendered = 0
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def with_voice(cls, tts_type: str, server: MediaServer, *, field: str = "speech.tts") -> SpeechCache:
        """`talk`'s voice by name (the configuration's `speech.tts`; "" = the engine's default voice), made by
        the provider catalogue like an AI's; ProviderUnavailableError says why a name cannot be used."""
        return cls(TTS.create(tts_type, field=field), server)

    async def render(self, text: str, *, language: str = "", voice_id: str = "") -> str:
        key = hashlib.sha256(f"{self.tts.name}\0{voice_id}\0{language}\0{text}".encode()).hexdigest()[:32]
        name = f"tts-{key}.wav"
        path = self.server.directory / name
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not path.exists():
                audio = await self.tts.synthesize(text, voice_id=voice_id, language=language)
                await asyncio.to_thread(_write_wav, path, audio, self.tts.sample_rate)
                self.rendered += 1
                log.debug("rendered %d samples of speech to %s", audio.size, name)
        self._locks.pop(key, None)
        return "sound:" + self.server.url(name)


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    if rate != PLAYBACK_RATE and audio.size:
        audio = soxr.resample(audio.astype(np.float32) / 32768.0, rate, PLAYBACK_RATE)
        audio = np.clip(np.round(audio * 32768.0), -32768, 32767).astype("<i2")
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(PLAYBACK_RATE)
        w.writeframes(np.asarray(audio, dtype="<i2").tobytes())
    tmp.replace(path)

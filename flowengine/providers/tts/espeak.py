"""Offline light TTS: Debian's espeak-ng (robotic, very fast); a fallback voice."""
from __future__ import annotations

import asyncio
import io
import shutil
import wave
from collections.abc import AsyncGenerator

import numpy as np

from flowengine.providers.needs import missing_program
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError, TTSProvider

INSTALL_HINT = "espeak-ng is not installed (Debian package espeak-ng, installed by `make deps`)"


def ready(**_: object) -> str:
    return missing_program("espeak-ng", INSTALL_HINT)


@TTS_PROVIDERS.register("espeak", ready=ready)
class EspeakTTS(TTSProvider):
    name = "espeak"
    sample_rate = 22050

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise TTSError(INSTALL_HINT)
        args = [binary, "--stdout"]
        if voice_id or language:
            args += ["-v", voice_id or language.split("-")[0].lower()]
        proc = await asyncio.create_subprocess_exec(
            *args, text, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise TTSError(f"espeak-ng failed: {err.decode(errors='replace').strip()}")
        with wave.open(io.BytesIO(out)) as w:
            self.sample_rate = w.getframerate()
            yield np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()

"""Deepgram Aura voices over the REST speak endpoint (`POST /v1/speak`), raw 8 kHz mu-law read as it streams."""
from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import READ_TIMEOUT_S
from flowengine.providers.tts import chunked
from flowengine.providers.tts.base import TTS_PROVIDERS
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks

BASE_URL = "https://api.deepgram.com"


def supports(*, voice_id: object = "", **_: object) -> tuple[str, str] | None:
    """Aura voices only: the voice_id is the model's name (aura-2-thalia-en, aura-asteria-en...)."""
    if voice_id and not str(voice_id).startswith("aura-"):
        return "voice_id", (f"deepgram's voice_id is an Aura model name such as aura-2-thalia-en, not "
                            f"{str(voice_id)!r}")
    return None


@TTS_PROVIDERS.register("deepgram", ready=credentials.ready_for("deepgram"), supports=supports)
class DeepgramTTS(CloudTTS):
    """One POST per sentence; the voice_id is the Aura model name (`aura-2-thalia-en`). REST rather than the
    speak WebSocket: a sentence is one request either way, the pooled keep-alive connection makes the first
    byte as quick as a socket's, and a barge-in is closing the response (nothing more is generated or billed)
    instead of Clear on a shared socket."""

    vendor = "deepgram"
    name = "deepgram"
    default_voice = "aura-2-thalia-en"
    sample_rate = 8000
    read_timeout_s = READ_TIMEOUT_S

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        params = {"model": voice, "encoding": "mulaw", "sample_rate": "8000", "container": "none"}
        pcm = PcmChunks("mulaw")
        async with chunked.post(self, self.url(BASE_URL, "/v1/speak"), params=params, body={"text": text},
                                headers={"Authorization": f"Token {self.access.api_key}"},
                                read_timeout_s=self.read_timeout_s) as response:
            async for data in response.content.iter_any():
                yield pcm.push(data)

"""PlayHT voices over the v2 streaming endpoint (`POST /api/v2/tts/stream`), raw 8 kHz mu-law read as it streams."""
from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import READ_TIMEOUT_S
from flowengine.providers.tts import chunked
from flowengine.providers.tts.base import TTS_PROVIDERS
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks

BASE_URL = "https://api.play.ht"
ENGINE = "Play3.0-mini"  # the low-latency engine of the v2 streaming endpoint
# a stock voice of PlayHT's library (the one pyht's own examples use), for voice_id ""
DEFAULT_VOICE = "s3://voice-cloning-zero-shot/d9ff78ba-d016-47f6-b0ef-dd630f59414e/female-cs/manifest.json"


@TTS_PROVIDERS.register("playht", ready=credentials.ready_for("playht"))
class PlayHTTTS(CloudTTS):
    """One POST per sentence with the key (`Bearer`, as pyht sends it) and the user id; a barge-in closes the
    response."""

    vendor = "playht"
    name = "playht"
    default_voice = DEFAULT_VOICE
    sample_rate = 8000
    read_timeout_s = READ_TIMEOUT_S

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        body = {"text": text, "voice": voice, "voice_engine": ENGINE, "output_format": "mulaw", "sample_rate": 8000}
        headers = {"AUTHORIZATION": f"Bearer {self.access.api_key}", "X-USER-ID": self.access.account,
                   "Accept": "audio/basic"}
        pcm = PcmChunks("mulaw")
        async with chunked.post(self, self.url(BASE_URL, "/api/v2/tts/stream"), headers=headers, body=body,
                                read_timeout_s=self.read_timeout_s) as response:
            async for data in response.content.iter_any():
                yield pcm.push(data)

"""Azure Speech voices over its REST API: SSML in, 8 kHz mu-law out, decoded chunk by chunk as Azure streams it."""
from __future__ import annotations

from collections.abc import AsyncIterator
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import TransientError, raise_for_answer
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks

PATH = "/cognitiveservices/v1"
OUTPUT_FORMAT = "raw-8khz-8bit-mono-mulaw"  # headerless: every byte is a sample, playable as it arrives
DEFAULT_LANGUAGE = "en-US"
NOT_AUDIO = ("text/", "application/json", "application/xml", "application/problem")


def ssml(text: str, voice: str, language: str) -> str:
    return (f"<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang={quoteattr(language)}>"
            f"<voice name={quoteattr(voice)}>{escape(text)}</voice></speak>")


@TTS_PROVIDERS.register("azure", ready=credentials.ready_for("azure"))
class AzureTTS(CloudTTS):
    """Needs speech.providers.azure api_key and region; base_url replaces the regional host."""

    vendor = "azure"
    name = "azure"
    default_voice = "en-US-JennyNeural"
    sample_rate = 8000

    def __repr__(self) -> str:  # never the key
        return f"AzureTTS({self.endpoint()})"

    def endpoint(self) -> str:
        return self.url(f"https://{self.access.region}.tts.speech.microsoft.com", PATH)

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        headers = {"Ocp-Apim-Subscription-Key": self.access.api_key, "Content-Type": "application/ssml+xml",
                   "X-Microsoft-OutputFormat": OUTPUT_FORMAT, "User-Agent": "flowengine"}
        body = ssml(text, voice, language or DEFAULT_LANGUAGE).encode()
        async with self.http.post(self.endpoint(), data=body, headers=headers) as response:
            await raise_for_answer(response, "azure")
            kind = response.headers.get("Content-Type", "")
            if kind.startswith(NOT_AUDIO):
                raise TTSError(f"azure answered {kind} instead of audio: {(await response.read())[:80]!r}")
            decoder = PcmChunks("mulaw")
            got = 0
            async for data in response.content.iter_any():
                got += len(data)
                yield decoder.push(data)
        if not got:
            raise TransientError("azure answered no audio")

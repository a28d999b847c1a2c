"""Google Cloud voices over the REST API (v1 text:synthesize): one JSON answer carrying the whole sentence as
base64 8 kHz mu-law in a WAV file; Google does not stream it (streaming is gRPC only), so it is cut in chunks here."""
from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator

import aiohttp
import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import RefusedError, TransientError, error_text, json_or_none, raise_for_answer
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks, strip_wav_header

PATH = "/v1/text:synthesize"
DEFAULT_LANGUAGE = "en-US"
CHUNK_BYTES = 1600  # 200 ms of 8 kHz mu-law


def voice_language(voice: str) -> str:
    """The languageCode a Google voice name starts with (en-US-Wavenet-D -> en-US), else the default."""
    parts = voice.split("-")
    return f"{parts[0]}-{parts[1]}" if len(parts) >= 3 and parts[0] and parts[1] else DEFAULT_LANGUAGE


@TTS_PROVIDERS.register("google", ready=credentials.ready_for("google"))
class GoogleTTS(CloudTTS):
    """Needs speech.providers.google api_key (an API key with the Text-to-Speech API enabled)."""

    vendor = "google"
    name = "google"
    default_voice = "en-US-Wavenet-D"
    sample_rate = 8000

    def __repr__(self) -> str:  # never the key
        return f"GoogleTTS({self.url('https://texttospeech.googleapis.com', PATH)})"

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        body = {"input": {"text": text}, "voice": {"languageCode": language or voice_language(voice), "name": voice},
                "audioConfig": {"audioEncoding": "MULAW", "sampleRateHertz": 8000}}
        url = self.url("https://texttospeech.googleapis.com", PATH)
        async with self.http.post(url, json=body, headers={"x-goog-api-key": self.access.api_key}) as response:
            await _raise_for_key(response)
            await raise_for_answer(response, "google")
            raw = await response.read()
        audio = strip_wav_header(_audio_content(raw))
        if not audio:
            raise TransientError("google answered no audio")
        decoder = PcmChunks("mulaw")
        for start in range(0, len(audio), CHUNK_BYTES):
            yield decoder.push(audio[start:start + CHUNK_BYTES])


async def _raise_for_key(response: aiohttp.ClientResponse) -> None:
    """Google answers a bad API key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID (not 401)."""
    if response.status == 400:
        detail = await error_text(response)
        if "API_KEY_INVALID" in detail or "API key not valid" in detail:
            raise RefusedError(f"google refused the API key (HTTP 400): {detail}")


def _audio_content(raw: bytes) -> bytes:
    answer = json_or_none(raw.decode("utf-8", "replace"))
    content = answer.get("audioContent") if isinstance(answer, dict) else None
    if not isinstance(content, str):
        raise TTSError(f"google answered something that is not a synthesis result: {raw[:80]!r}")
    try:
        return base64.b64decode(content, validate=True)
    except binascii.Error:
        raise TTSError("google answered audioContent that is not base64") from None

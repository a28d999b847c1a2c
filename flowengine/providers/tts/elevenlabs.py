"""ElevenLabs voices over the input-streaming WebSocket (`/v1/text-to-speech/{voice}/stream-input`), 8 kHz mu-law."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import READ_TIMEOUT_S, TransientError
from flowengine.providers.tts.base import TTS_PROVIDERS
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks, b64_audio
from flowengine.providers.tts.websocket import connect, receive_json

BASE_URL = "https://api.elevenlabs.io"
MODEL = "eleven_flash_v2_5"  # the low-latency model; it takes language_code
OUTPUT_FORMAT = "ulaw_8000"
MAX_MESSAGES = 100_000  # a bound on one sentence's messages (a 10 s sentence is a few dozen)


@TTS_PROVIDERS.register("elevenlabs", ready=credentials.ready_for("elevenlabs"))
class ElevenLabsTTS(CloudTTS):
    """One socket per sentence: the init message, the sentence with `flush`, the end message; audio messages
    are decoded as they arrive until `isFinal`. There is no cancel message: a barge-in closes the socket."""

    vendor = "elevenlabs"
    name = "elevenlabs"
    default_voice = "EXAVITQu4vr4xnSDxMaL"
    sample_rate = 8000
    read_timeout_s = READ_TIMEOUT_S

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        params = {"model_id": MODEL, "output_format": OUTPUT_FORMAT}
        if language:
            params["language_code"] = language.split("-")[0].lower()  # ISO 639-1: "en-US" -> "en"
        url = self.ws_url(BASE_URL, f"/v1/text-to-speech/{quote(voice, safe='')}/stream-input")
        pcm = PcmChunks("mulaw")
        async with connect(self, url, headers={"xi-api-key": self.access.api_key}, params=params,
                           read_timeout_s=self.read_timeout_s) as ws:
            await ws.send_str(json.dumps({"text": " "}))
            await ws.send_str(json.dumps({"text": text.strip() + " ", "flush": True}))
            await ws.send_str(json.dumps({"text": ""}))
            for _ in range(MAX_MESSAGES):
                message = await receive_json(ws, self.vendor)
                if message is None:
                    return
                audio = message.get("audio")
                if audio:
                    yield pcm.push(b64_audio(audio, self.vendor))
                if message.get("isFinal"):
                    return
                if not audio and ("message" in message or "error" in message):
                    detail = message.get("message") or message.get("error")
                    raise TransientError(f"elevenlabs reported an error: {str(detail)[:200]}")
            raise TransientError("elevenlabs sent no end of the sentence")


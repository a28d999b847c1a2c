"""Hume Octave voices over the NDJSON streaming endpoint (`POST /v0/tts/stream/json`), 48 kHz 16-bit PCM."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import READ_TIMEOUT_S, TransientError
from flowengine.providers.tts import chunked
from flowengine.providers.tts.base import TTS_PROVIDERS
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks, b64_audio, strip_wav_header

BASE_URL = "https://api.hume.ai"
LIBRARY = "HUME_AI:"  # voice_id prefix naming a voice of Hume's Voice Library (without it: the account's own)
DEFAULT_VOICE = LIBRARY + "Ava Song"  # a Voice Library voice: instant mode needs a voice, and one voice per call
MAX_LINE = 8 << 20  # one NDJSON line (a chunk of base64 audio) longer than this is not the protocol


def voice_spec(voice: str) -> dict[str, str]:
    """`HUME_AI:<name or id>` -> a Voice Library voice; `<name or id>` -> the account's custom voice. An id is
    a UUID (36 characters with dashes), anything else a name."""
    provider = "HUME_AI" if voice.startswith(LIBRARY) else "CUSTOM_VOICE"
    voice = voice.removeprefix(LIBRARY)
    key = "id" if len(voice) == 36 and voice.count("-") == 4 else "name"
    return {key: voice, "provider": provider}


@TTS_PROVIDERS.register("hume", ready=credentials.ready_for("hume"))
class HumeTTS(CloudTTS):
    """One POST per sentence with a voice and `instant_mode` (the lowest-latency mode, which needs a voice);
    `{"type":"audio"}` lines are decoded as they arrive. A barge-in closes the response."""

    vendor = "hume"
    name = "hume"
    default_voice = DEFAULT_VOICE
    sample_rate = 48000  # Hume's PCM (no mu-law, no rate choice): the engine resamples
    read_timeout_s = READ_TIMEOUT_S

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        body = {"utterances": [{"text": text, "voice": voice_spec(voice)}], "format": {"type": "pcm"},
                "instant_mode": True}
        pcm = PcmChunks("s16le")
        first = True
        async with chunked.post(self, self.url(BASE_URL, "/v0/tts/stream/json"), body=body,
                                headers={"X-Hume-Api-Key": self.access.api_key}, expect="ndjson",
                                read_timeout_s=self.read_timeout_s) as response:
            pending = b""
            async for data in response.content.iter_any():
                pending += data
                if len(pending) > MAX_LINE:
                    raise TransientError("hume sent a line longer than any audio chunk: not its protocol")
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    audio = _audio(line)
                    if audio:
                        yield pcm.push(strip_wav_header(audio) if first else audio)
                        first = False
            if pending.strip():
                audio = _audio(pending)
                if audio:
                    yield pcm.push(strip_wav_header(audio) if first else audio)


def _audio(line: bytes) -> bytes:
    """The audio of one NDJSON line (b"" for the other kinds: timestamps...)."""
    if not line.strip():
        return b""
    try:
        message: Any = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise TransientError(f"hume sent a line that is not its protocol: {line[:80]!r}")
    if message["type"] == "error" or "error" in message:
        detail = message.get("message") or message.get("error")
        raise TransientError(f"hume reported an error: {str(detail)[:200]}")
    return b64_audio(message.get("audio"), "hume") if message["type"] == "audio" else b""

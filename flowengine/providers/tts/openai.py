"""OpenAI voices (and OpenAI-compatible speech servers) through the `openai` client's streamed speech answer:
24 kHz 16-bit PCM chunks as they arrive; closing the iterator closes the HTTP response (barge-in)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import TransientError
from flowengine.providers.openai_speech import DEFAULT_BASE, classify, make_client
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError
from flowengine.providers.tts.cloud import CloudTTS, PcmChunks

# tts-1: the model every OpenAI-compatible speech server (Kokoro-FastAPI, openedai-speech, LocalAI) answers to;
# gpt-4o-mini-tts is OpenAI's only
DEFAULT_MODEL = "tts-1"
VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
                    "marin", "cedar"})
CUSTOM_PREFIX = "voice_"  # OpenAI's custom voices, sent as {"id": ...}
NOT_AUDIO = ("text/", "application/json", "application/xml")


def supports(*, voice_id: object = "", **_: object) -> tuple[str, str] | None:
    """OpenAI's own voices are a fixed list; a compatible server (a base_url is set) has its own, so any goes."""
    if voice_id and credentials.access("openai").base_url == "":
        voice = str(voice_id)
        if voice not in VOICES and not voice.startswith(CUSTOM_PREFIX):
            return "voice_id", (f"openai has no voice {voice!r} (voices: {', '.join(sorted(VOICES))}, "
                                f"or a custom voice id {CUSTOM_PREFIX}...)")
    return None


@TTS_PROVIDERS.register("openai", ready=credentials.ready_for("openai"), supports=supports)
class OpenAITTS(CloudTTS):
    vendor = "openai"
    name = "openai"
    default_voice = "alloy"
    sample_rate = 24000

    def __init__(self, *, model: str = "", **_: object) -> None:
        super().__init__()
        self.model = model or DEFAULT_MODEL
        self.base_url = self.url(DEFAULT_BASE)
        self._client = make_client(self.access, self.base_url)

    def __repr__(self) -> str:  # never the key
        return f"OpenAITTS({self.model} at {self.base_url})"

    async def _synthesize(self, text: str, voice: str, language: str) -> AsyncIterator[np.ndarray]:
        import httpx2  # the openai client's transport: errors while reading a streamed body come from it unwrapped
        import openai

        chosen: str | dict[str, str] = {"id": voice} if voice.startswith(CUSTOM_PREFIX) else voice
        decoder = PcmChunks("s16le")
        got = 0
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                    model=self.model, input=text, voice=chosen, response_format="pcm") as response:  # type: ignore[arg-type]
                kind = response.headers.get("content-type", "")
                if kind.startswith(NOT_AUDIO):
                    raise TTSError(f"openai answered {kind} instead of audio: {(await response.read())[:80]!r}")
                async for data in response.iter_bytes():
                    got += len(data)
                    yield decoder.push(data)
        except openai.OpenAIError as exc:
            raise classify(exc, self.access.api_key) from None
        except httpx2.TransportError as exc:
            raise TransientError(f"openai voice stream broke: {type(exc).__name__}") from None
        if not got:
            raise TransientError("openai answered no audio")

    async def aclose(self) -> None:
        await self._client.close()
        await super().aclose()

"""OpenAI transcription (and OpenAI-compatible speech servers) through the `openai` client: the HTTP API takes a
whole file, so the stream buffers a turn's frames and sends them as one WAV at `finalize`."""
from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import CloudClient, RefusedError, TransientError
from flowengine.providers.openai_speech import DEFAULT_BASE, classify, make_client, redact
from flowengine.providers.stt.base import SAMPLE_RATE, STT_PROVIDERS, STTError, STTProvider, STTStream, Transcript
from flowengine.providers.stt.wav import wav_file

# whisper-1: the model name OpenAI serves and the one self-hosted OpenAI-compatible servers (faster-whisper-server,
# speaches, LocalAI) answer to; the gpt-4o-*-transcribe models are OpenAI's only
DEFAULT_MODEL = "whisper-1"
ATTEMPTS = 2


@STT_PROVIDERS.register("openai", ready=credentials.ready_for("openai"))
class OpenAISTT(CloudClient, STTProvider):
    """`streaming` so the conversation hands it frames as they come; it still answers only at finalize."""

    vendor = "openai"
    name = "openai"
    streaming = True

    def __init__(self, *, model: str = "", **_: object) -> None:
        CloudClient.__init__(self)
        self.model = model or DEFAULT_MODEL
        self.base_url = self.url(DEFAULT_BASE)
        self._client = make_client(self.access, self.base_url)

    def __repr__(self) -> str:  # never the key
        return f"OpenAISTT({self.model} at {self.base_url})"

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        return await self.transcribe_bytes(pcm.astype("<i2", copy=False).tobytes(), language=language)

    async def open_stream(self, *, language: str = "", keywords: tuple[str, ...] = ()) -> STTStream:
        return OpenAIStream(self, language, keywords)

    async def transcribe_bytes(self, pcm: bytes, *, language: str = "", keywords: tuple[str, ...] = ()) -> Transcript:
        """One turn of PCM16 mono 16 kHz as a WAV file; one retry on a transient failure."""
        audio_ms = len(pcm) * 1000 // (2 * SAMPLE_RATE)
        if not pcm:
            return Transcript("", language=language)
        request: dict[str, Any] = {"model": self.model, "response_format": "json"}
        if language:
            request["language"] = language.split("-")[0].lower()  # ISO-639-1, what whisper takes
        if keywords:
            request["prompt"] = ", ".join(keywords)  # whisper's way to bias spelling; no separate keyword list
        started = asyncio.get_running_loop().time()
        text = await self._request(wav_file(pcm, SAMPLE_RATE), request)
        compute_ms = int((asyncio.get_running_loop().time() - started) * 1000)
        return Transcript(text.strip(), language=language, audio_ms=audio_ms, compute_ms=compute_ms)

    async def _request(self, wav: bytes, request: dict[str, Any]) -> str:
        import openai

        failure: TransientError | None = None
        for _ in range(ATTEMPTS):
            try:
                result = await self._client.audio.transcriptions.create(
                    file=("turn.wav", wav, "audio/wav"), **request)
            except openai.OpenAIError as exc:
                error = classify(exc, self.access.api_key)
                if isinstance(error, RefusedError):
                    raise STTError(str(error)) from None
                failure = error
                continue
            except ValueError as exc:  # a body announced as JSON that is not
                raise STTError(f"openai answered something that is not JSON: {exc}") from None
            text = getattr(result, "text", None)
            if not isinstance(text, str):
                shown = redact(repr(result), self.access.api_key)[:80]
                raise STTError(f"openai answered something that is not a transcription: {shown}")
            return text
        raise STTError(f"openai transcription failed after {ATTEMPTS} attempts: {failure}")

    async def aclose(self) -> None:
        await self._client.close()
        await CloudClient.aclose(self)


class OpenAIStream(STTStream):
    """Buffers the turn (the HTTP API takes a file); nothing goes out before `finalize`, so there is no interim
    text and no end-of-speech signal of the provider's own."""

    def __init__(self, provider: OpenAISTT, language: str, keywords: tuple[str, ...]) -> None:
        super().__init__()
        self._provider = provider
        self._language = language
        self._keywords = keywords
        self._turn: list[bytes] = []
        self._closed = False

    async def send(self, pcm: np.ndarray) -> None:
        if self._closed:
            raise STTError("the openai stream is closed")
        if pcm.size:
            self._turn.append(pcm.astype("<i2", copy=False).tobytes())
            self.sent_ms += pcm.size * 1000 // SAMPLE_RATE

    async def finalize(self) -> Transcript:
        pcm, self._turn = b"".join(self._turn), []
        return await self._provider.transcribe_bytes(pcm, language=self._language, keywords=self._keywords)

    async def aclose(self) -> None:
        self._closed = True
        self._turn = []

"""Azure Speech recognition over its REST API for short audio, streamed: each caller turn is one chunked POST
whose body grows as the caller's frames arrive; Azure answers once, after the body ends (`finalize`)."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from flowengine.providers import credentials
from flowengine.providers.cloud import (
    TRANSIENT,
    CloudClient,
    RefusedError,
    TransientError,
    describe,
    json_or_none,
    raise_for_answer,
)
from flowengine.providers.stt.base import (
    SAMPLE_RATE,
    STT_PROVIDERS,
    STTError,
    STTProvider,
    STTStream,
    Transcript,
    transcribe_by_stream,
)
from flowengine.providers.stt.wav import wav_header

PATH = "/speech/recognition/conversation/cognitiveservices/v1"
CONTENT_TYPE = "audio/wav; codecs=audio/pcm; samplerate=16000"
DEFAULT_LANGUAGE = "en-US"
NOTHING_SAID = ("NoMatch", "InitialSilenceTimeout")
ATTEMPTS = 2  # one retry of a turn whose request failed before the answer (its audio is kept and re-sent)
RETRYABLE: tuple[type[BaseException], ...] = (TransientError, *TRANSIENT)

Body = asyncio.Queue[bytes | None]  # the turn's audio as it arrives; None ends the request body


@STT_PROVIDERS.register("azure", ready=credentials.ready_for("azure"))
class AzureSTT(CloudClient, STTProvider):
    """Needs speech.providers.azure api_key and region; base_url replaces the regional host."""

    vendor = "azure"
    name = "azure"
    streaming = True

    def __init__(self, **_: object) -> None:
        CloudClient.__init__(self)

    def __repr__(self) -> str:  # never the key
        return f"AzureSTT({self.endpoint()})"

    def endpoint(self) -> str:
        return self.url(f"https://{self.access.region}.stt.speech.microsoft.com", PATH)

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        return await transcribe_by_stream(self, pcm, language=language)

    async def open_stream(self, *, language: str = "", keywords: tuple[str, ...] = ()) -> STTStream:
        # keywords: the short-audio REST API has no phrase list (that is the SDK's PhraseListGrammar)
        return AzureStream(self, language or DEFAULT_LANGUAGE)

    async def recognise(self, body: Body, language: str) -> dict[str, Any]:
        """One request: the WAV header with open-ended lengths, then the queued audio until None; the answer."""

        async def chunks() -> AsyncIterator[bytes]:
            yield wav_header(SAMPLE_RATE)
            while (chunk := await body.get()) is not None:
                yield chunk

        headers = {"Ocp-Apim-Subscription-Key": self.access.api_key, "Content-Type": CONTENT_TYPE,
                   "Accept": "application/json"}
        params = {"language": language, "format": "detailed"}
        # an async iterable body goes out with Transfer-Encoding: chunked, each chunk as it is queued
        async with self.http.post(self.endpoint(), params=params, headers=headers, data=chunks()) as response:
            await raise_for_answer(response, "azure")
            raw = await response.read()
        answer = json_or_none(raw.decode("utf-8", "replace"))
        if not isinstance(answer, dict) or not isinstance(answer.get("RecognitionStatus"), str):
            raise STTError(f"azure answered something that is not a recognition result: {raw[:80]!r}")
        return answer


class AzureStream(STTStream):
    """A turn's request opens at its first frame; frames are queued to the request body as they arrive (send
    never waits on the network). Azure sends nothing before the body ends, so there is no interim text and no
    end-of-speech signal of its own: the engine's endpointing decides when to `finalize`."""

    def __init__(self, provider: AzureSTT, language: str) -> None:
        super().__init__()
        self._provider = provider
        self._language = language
        self._turn: list[bytes] = []  # the turn's audio, kept to re-send it once when a request fails
        self._body: Body | None = None
        self._request: asyncio.Task[dict[str, Any]] | None = None
        self._attempts = 0
        self._failure: BaseException | None = None  # why the last request of this turn failed
        self._refused: STTError | None = None  # sticky: a refused key refuses every turn
        self._closed = False

    async def send(self, pcm: np.ndarray) -> None:
        if self._refused is not None:
            raise self._refused
        if self._closed:
            raise STTError("the azure stream is closed")
        if pcm.size == 0:
            return
        data = pcm.astype("<i2", copy=False).tobytes()
        self._turn.append(data)
        self.sent_ms += pcm.size * 1000 // SAMPLE_RATE
        self._check_request()
        if self._request is None:
            if self._attempts < ATTEMPTS:
                self._start()  # the first frame of the turn, or the retry of a request that failed mid-turn
        elif not self._request.done() and self._body is not None:
            self._body.put_nowait(data)

    async def finalize(self) -> Transcript:
        if self._refused is not None:
            raise self._refused
        audio_ms = sum(len(b) for b in self._turn) * 1000 // (2 * SAMPLE_RATE)
        if not self._turn:
            return Transcript("", language=self._language)
        started = asyncio.get_running_loop().time()
        try:
            answer = await self._answer()
        finally:
            await self._end_turn()
        compute_ms = int((asyncio.get_running_loop().time() - started) * 1000)
        return self._transcript(answer, audio_ms, compute_ms)

    async def aclose(self) -> None:
        self._closed = True
        await self._end_turn()

    def _start(self) -> None:
        self._attempts += 1
        body: Body = asyncio.Queue()
        body.put_nowait(b"".join(self._turn))
        self._body = body
        self._request = asyncio.create_task(self._provider.recognise(body, self._language), name="azure-stt-turn")

    def _check_request(self) -> None:
        """A request that ended before its turn did: a refused key raises; a transient failure is dropped so
        the next frame (or finalize) opens the retry; an early answer or another error waits for finalize."""
        task = self._request
        if task is None or not task.done() or task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, RefusedError):
            raise self._refuse(exc)
        if isinstance(exc, RETRYABLE):
            self._request, self._failure = None, exc

    async def _answer(self) -> dict[str, Any]:
        for _ in range(ATTEMPTS + 1):  # bounded: every pass ends, raises or uses up an attempt
            self._check_request()
            if self._request is None:
                if self._attempts >= ATTEMPTS:
                    break
                self._start()
            assert self._request is not None and self._body is not None
            self._body.put_nowait(None)
            try:
                return await self._request
            except RefusedError as exc:
                raise self._refuse(exc) from None
            except RETRYABLE as exc:
                self._request, self._failure = None, exc
        what = describe(self._failure) if self._failure is not None else "no answer"
        raise STTError(f"azure recognition failed after {self._attempts} attempts: {what}")

    def _refuse(self, exc: RefusedError) -> STTError:
        self._refused = STTError(str(exc))
        return self._refused

    async def _end_turn(self) -> None:
        task, self._request, self._body = self._request, None, None
        self._turn, self._attempts, self._failure = [], 0, None
        if task is not None and not task.done():
            task.cancel()  # aborts the request: the connection closes, Azure stops listening (and billing)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _transcript(self, answer: dict[str, Any], audio_ms: int, compute_ms: int) -> Transcript:
        status = answer["RecognitionStatus"]
        if status in NOTHING_SAID:
            return Transcript("", language=self._language, audio_ms=audio_ms, compute_ms=compute_ms)
        if status != "Success":
            raise STTError(f"azure could not recognise the turn: RecognitionStatus {status}")
        text = answer.get("DisplayText")
        if not isinstance(text, str):
            raise STTError("azure answered Success without a DisplayText")
        best = answer.get("NBest")
        confidence = 0.0
        if isinstance(best, list) and best and isinstance(best[0], dict):
            value = best[0].get("Confidence")
            confidence = float(value) if isinstance(value, int | float) else 0.0
        return Transcript(text, language=self._language, confidence=confidence, audio_ms=audio_ms,
                          compute_ms=compute_ms)

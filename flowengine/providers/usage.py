"""What an AI call used: LLM tokens (as the provider reports them, else estimated), TTS characters, STT and call seconds;
each request also reported to the telemetry port (count, outcome, duration by provider)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from flowengine.providers.clock import Window
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.stt.base import SAMPLE_RATE, EndOfSpeech, STTContext, STTProvider, STTStream, Transcript
from flowengine.providers.tts.base import TTSProvider
from flowengine.telemetry import ProviderKind, RequestOutcome, sink

CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text with OpenAI-style tokenizers


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass
class LLMUsage:
    provider: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    estimated: bool = False  # some request's tokens were estimated (characters / 4): the provider reported none

    def add(self, usage: Usage | None, prompt_text: str, completion_text: str) -> None:
        self.requests += 1
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            self.prompt_tokens += usage.input_tokens
            self.completion_tokens += usage.output_tokens
            return
        self.estimated = True
        self.prompt_tokens += estimate_tokens(prompt_text)
        self.completion_tokens += estimate_tokens(completion_text)


@dataclass
class STTUsage:
    provider: str = ""
    seconds: float = 0.0  # audio sent to the recogniser (speculative transcriptions too: they are billed)
    requests: int = 0


@dataclass
class TTSUsage:
    provider: str = ""
    characters: int = 0
    requests: int = 0


@dataclass
class TransportUsage:
    provider: str = "asterisk"
    seconds: float = 0.0  # the AI call's length on the phone line


@dataclass
class UsageReport:
    llm: LLMUsage = field(default_factory=LLMUsage)
    stt: STTUsage = field(default_factory=STTUsage)
    tts: TTSUsage = field(default_factory=TTSUsage)
    transport: TransportUsage = field(default_factory=TransportUsage)
    analysis: dict[str, LLMUsage] = field(default_factory=dict)  # summary, structuredData, successEvaluation

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stt"]["seconds"] = round(self.stt.seconds, 3)
        data["transport"]["seconds"] = round(self.transport.seconds, 3)
        return data


@contextlib.contextmanager
def _timed(kind: ProviderKind, provider: str) -> Iterator[None]:
    """Reports the request in the `with` block: ok, error (an exception), cancelled (the task cancelled, or the
    consumer closed the stream early: a barge-in)."""
    started = time.perf_counter()
    outcome: RequestOutcome = "error"
    try:
        yield
        outcome = "ok"
    except (asyncio.CancelledError, GeneratorExit):
        outcome = "cancelled"
        raise
    finally:
        sink().provider_request(kind, provider, outcome, time.perf_counter() - started)


async def _timed_call(kind: ProviderKind, provider: str, request: Awaitable[Transcript]) -> Transcript:
    with _timed(kind, provider):
        return await request


def prompt_text(messages: list[ChatMessage], tools: list[ToolSpec] | None) -> str:
    parts = [m.content for m in messages] + [c.arguments for m in messages for c in m.tool_calls]
    parts += [json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters})
              for t in tools or ()]
    return "\n".join(parts)


class MeteredLLM(LLMProvider):
    """Counts every request's tokens into `usage`; owns the wrapped provider (closing it closes that)."""

    def __init__(self, inner: LLMProvider, usage: LLMUsage) -> None:
        self.inner = inner
        self.usage = usage
        self.name = inner.name
        self.is_llm = inner.is_llm
        self.model = str(getattr(inner, "model", ""))
        usage.provider, usage.model = usage.provider or inner.name, usage.model or self.model

    def __repr__(self) -> str:
        return f"Metered({self.inner!r})"

    def request_phrases(self) -> tuple[tuple[str, str], ...]:
        return self.inner.request_phrases()

    def time_window(self) -> Window | None:
        return self.inner.time_window()

    async def stream(self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None,
                     temperature: float | None = None, max_tokens: int | None = None) -> AsyncIterator[LLMEvent]:
        reported: Usage | None = None
        completion: list[str] = []
        try:
            with _timed("llm", self.name):
                async for event in self.inner.stream(messages, tools=tools, temperature=temperature,
                                                     max_tokens=max_tokens):
                    if isinstance(event, Usage):
                        reported = event
                    elif isinstance(event, TextDelta):
                        completion.append(event.text)
                    elif isinstance(event, ToolCallRequest):
                        completion.append(event.call.name + event.call.arguments)
                    yield event
        finally:  # a request cut short (barge-in) is still paid for: estimated when nothing was reported
            self.usage.add(reported, prompt_text(messages, tools), "".join(completion))

    async def aclose(self) -> None:
        await self.inner.aclose()


class MeteredSTT(STTProvider):
    """Counts seconds of audio sent to the recogniser (streamed or per utterance); the wrapped recogniser is
    shared, so closing this closes nothing."""

    def __init__(self, inner: STTProvider, usage: STTUsage) -> None:
        self.inner = inner
        self.usage = usage
        self.name = inner.name
        self.streaming = inner.streaming
        usage.provider = usage.provider or inner.name

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        self.usage.requests += 1
        self.usage.seconds += pcm.size / SAMPLE_RATE
        return await _timed_call("stt", self.name, self.inner.transcribe(pcm, language=language))

    async def transcribe_in_context(self, pcm: np.ndarray, context: STTContext, *, language: str = "") -> Transcript:
        # Passed on, not left to the base's plain `transcribe`: every AI call's recogniser is metered, so the
        # context would otherwise never reach it (bench understanding: real calls heard what they heard without it)
        self.usage.requests += 1
        self.usage.seconds += pcm.size / SAMPLE_RATE
        return await _timed_call("stt", self.name, self.inner.transcribe_in_context(pcm, context, language=language))

    def busy(self) -> bool:
        return self.inner.busy()

    async def open_stream(self, *, language: str = "", keywords: tuple[str, ...] = ()) -> STTStream:
        return MeteredSTTStream(await self.inner.open_stream(language=language, keywords=keywords), self.usage,
                                self.name)

    async def warm_up(self) -> None:
        await self.inner.warm_up()


class MeteredSTTStream(STTStream):
    """A streaming session whose sent audio is counted (each finalize is a request)."""

    def __init__(self, inner: STTStream, usage: STTUsage, provider: str = "") -> None:
        self.inner = inner  # first: the base's __init__ sets the forwarded attributes below
        self.usage = usage
        self.provider = provider or usage.provider
        super().__init__()

    @property
    def on_end_of_speech(self) -> EndOfSpeech | None:
        return self.inner.on_end_of_speech

    @on_end_of_speech.setter
    def on_end_of_speech(self, callback: EndOfSpeech | None) -> None:
        self.inner.on_end_of_speech = callback

    @property
    def interim(self) -> str:
        return self.inner.interim

    @interim.setter
    def interim(self, text: str) -> None:
        self.inner.interim = text

    async def send(self, pcm: np.ndarray) -> None:
        self.usage.seconds += pcm.size / SAMPLE_RATE
        await self.inner.send(pcm)

    async def finalize(self) -> Transcript:
        self.usage.requests += 1  # a streamed request is timed from the end of the audio to its final transcript
        return await _timed_call("stt", self.provider, self.inner.finalize())

    async def aclose(self) -> None:
        await self.inner.aclose()


class MeteredTTS(TTSProvider):
    """Counts characters sent to the voice; the wrapped voice is shared, so closing this closes nothing."""

    def __init__(self, inner: TTSProvider, usage: TTSUsage) -> None:
        self.inner = inner
        self.usage = usage
        self.name = inner.name
        usage.provider = usage.provider or inner.name

    @property
    def sample_rate(self) -> int:  # the inner voice's, which may learn it when its model loads
        return self.inner.sample_rate

    @sample_rate.setter
    def sample_rate(self, rate: int) -> None:
        self.inner.sample_rate = rate

    def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        self.usage.requests += 1
        self.usage.characters += len(text)
        return self._timed_stream(self.inner.stream(text, voice_id=voice_id, language=language))

    async def _timed_stream(self, chunks: AsyncGenerator[np.ndarray, None]) -> AsyncGenerator[np.ndarray, None]:
        async with contextlib.aclosing(chunks):  # closing this closes the voice's request at once (barge-in)
            with _timed("tts", self.name):
                async for chunk in chunks:
                    yield chunk


@dataclass
class UsageMeter:
    """One per AI call: wraps its providers, and times the call from `start()` to `stop()`."""

    report: UsageReport = field(default_factory=UsageReport)
    started: float = 0.0

    def llm(self, inner: LLMProvider) -> MeteredLLM:
        return inner if isinstance(inner, MeteredLLM) else MeteredLLM(inner, self.report.llm)

    def stt(self, inner: STTProvider) -> MeteredSTT:
        return inner if isinstance(inner, MeteredSTT) else MeteredSTT(inner, self.report.stt)

    def tts(self, inner: TTSProvider) -> MeteredTTS:
        return inner if isinstance(inner, MeteredTTS) else MeteredTTS(inner, self.report.tts)

    def start(self) -> None:
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.started:
            self.report.transport.seconds = time.monotonic() - self.started

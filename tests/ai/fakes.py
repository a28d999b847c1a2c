"""Fakes for conversation-loop tests: a scripted recogniser and model, and a playout that drains in real time."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from flowengine.providers.llm.base import (
    ChatMessage,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.stt.base import STTProvider, Transcript
from flowengine.providers.tts.base import TTSProvider


class ScriptedSTT(STTProvider):
    """Returns the next scripted text for each utterance (what a recogniser would have heard)."""

    name = "scripted"

    def __init__(self, texts: list[str], delay: float = 0.05) -> None:
        self.texts = deque(texts)
        self.delay = delay
        self.calls = 0

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        self.calls += 1
        await asyncio.sleep(self.delay)
        text = self.texts[0] if self.texts else ""
        return Transcript(text, audio_ms=pcm.size // 16, compute_ms=int(self.delay * 1000))

    def consume(self) -> None:
        if self.texts:
            self.texts.popleft()


class ScriptedLLM(LLMProvider):
    name = "scripted"
    is_llm = False

    def __init__(self, replies: list[str], word_delay: float = 0.005) -> None:
        self.replies = deque(replies)
        self.word_delay = word_delay
        self.requests: list[list[ChatMessage]] = []

    async def stream(self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None,
                     temperature: float | None = None, max_tokens: int | None = None) -> AsyncIterator[LLMEvent]:
        self.requests.append(list(messages))
        reply = self.replies.popleft() if self.replies else "Okay."
        for word in reply.split(" "):
            await asyncio.sleep(self.word_delay)
            yield TextDelta(word + " ")
        yield Usage(10, len(reply.split()))


class ToneTTS(TTSProvider):
    """100 ms of tone per word, at 16 kHz (fast and deterministic)."""

    name = "tone"
    sample_rate = 16000

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncIterator[np.ndarray]:
        n = max(1, len(text.split())) * 1600
        yield (np.sin(np.arange(n) * 2 * np.pi * 440 / 16000) * 8000).astype(np.int16)


@dataclass
class FakePlayout:
    """Queued audio drains at real-time speed; marks fire when their chunk is fully 'sent'."""

    on_mark: Callable[[Hashable], None] | None = None
    queue: deque[list[object]] = field(default_factory=deque)  # [ms_left, mark]
    paused: bool = False
    cleared: list[int] = field(default_factory=list)
    sent_ms: int = 0

    def play(self, pcm: np.ndarray, rate: int = 16000, *, mark: Hashable | None = None) -> None:
        self.queue.append([int(pcm.size * 1000 // rate), mark])

    def flush(self) -> None:
        return None

    def clear(self) -> object:
        ms = sum(int(item[0]) for item in self.queue)  # type: ignore[call-overload]
        self.queue.clear()
        self.cleared.append(ms)
        return type("Cleared", (), {"ms": ms, "marks": ()})()

    def pause_output(self) -> None:
        self.paused = True

    def resume_output(self) -> None:
        self.paused = False

    def queued_ms(self) -> int:
        return sum(int(item[0]) for item in self.queue)  # type: ignore[call-overload]

    async def drain(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            if self.paused or not self.queue:
                continue
            head = self.queue[0]
            head[0] = int(head[0]) - 20  # type: ignore[call-overload]
            self.sent_ms += 20
            if int(head[0]) <= 0:  # type: ignore[call-overload]
                self.queue.popleft()
                if self.on_mark is not None and head[1] is not None:
                    self.on_mark(head[1])  # type: ignore[arg-type]


class ScriptedToolLLM(ScriptedLLM):
    """Replies may carry tool calls: ("text", ["stop_service"])."""

    def __init__(self, turns: list[tuple[str, list[str]]], word_delay: float = 0.005) -> None:
        super().__init__([t for t, _ in turns], word_delay)
        self.tools_per_turn = deque(tools for _, tools in turns)

    async def stream(self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None,
                     temperature: float | None = None, max_tokens: int | None = None) -> AsyncIterator[LLMEvent]:
        names = self.tools_per_turn.popleft() if self.tools_per_turn else []
        async for event in super().stream(messages, tools=tools):
            yield event
        for i, name in enumerate(names):
            yield ToolCallRequest(ToolCall(f"call_{i}", name, "{}"))

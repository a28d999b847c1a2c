"""Fakes for conversation-loop tests: a scripted recogniser and model, and an audio output the test drives."""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from flowengine.media.output import PlayoutEnd
from flowengine.media.pacer import ClearResult
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
        self.audio_ms: list[int] = []  # the length of each utterance transcribed

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        self.calls += 1
        self.audio_ms.append(pcm.size // 16)
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
class _Chunk:
    ms: int  # left to send
    mark: Hashable | None


@dataclass
class FakeOutput:
    """An `AudioOutput` whose playout the test drives: each `tick()` sends 20 ms, as the media clock
    would (`drain()` ticks in real time); marks fire when their chunk is fully sent, and playout
    waiters are resolved in the tick that sends the last queued audio, or by `clear()`."""

    on_mark: Callable[[Hashable], None] | None = None
    queue: deque[_Chunk] = field(default_factory=deque)
    paused: bool = False
    cleared: list[int] = field(default_factory=list)
    sent_ms: int = 0
    flushes: int = 0
    waiters: list[asyncio.Future[PlayoutEnd]] = field(default_factory=list)
    _progress: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    def play(self, pcm: np.ndarray | bytes, rate: int = 16000, *, mark: Hashable | None = None) -> None:
        size = pcm.size if isinstance(pcm, np.ndarray) else len(pcm) // 2
        self.queue.append(_Chunk(size * 1000 // rate, mark))

    def flush(self) -> None:
        self.flushes += 1

    def clear(self) -> ClearResult:
        ms = self.queued_ms
        marks = tuple(c.mark for c in self.queue if c.mark is not None)
        self.queue.clear()
        self.cleared.append(ms)
        result = ClearResult(-(-ms // 20), marks)
        self._settle(PlayoutEnd(result))
        return result

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    @property
    def queued_ms(self) -> int:
        return sum(c.ms for c in self.queue)

    def wait_for_playout(self) -> asyncio.Future[PlayoutEnd]:
        future: asyncio.Future[PlayoutEnd] = asyncio.get_running_loop().create_future()
        if self.queue:
            self.waiters.append(future)
        else:
            future.set_result(PlayoutEnd())
        return future

    def tick(self) -> None:
        if self.paused or not self.queue:
            return
        head = self.queue[0]
        head.ms -= 20
        self.sent_ms += 20
        if head.ms <= 0:
            self.queue.popleft()
            if self.on_mark is not None and head.mark is not None:
                self.on_mark(head.mark)
        if not self.queue:
            self._settle(PlayoutEnd())
        for ms, future in [p for p in self._progress if p[0] <= self.sent_ms]:
            self._progress.remove((ms, future))
            if not future.done():
                future.set_result(None)

    async def drain(self) -> None:
        """The media clock of this fake: a tick every 20 ms."""
        while True:
            await asyncio.sleep(0.02)
            self.tick()

    async def sent(self, ms: int) -> None:
        """Returns once `ms` of audio has been sent in all."""
        if self.sent_ms < ms:
            future = asyncio.get_running_loop().create_future()
            self._progress.append((ms, future))
            await future

    def _settle(self, end: PlayoutEnd) -> None:
        waiters, self.waiters = self.waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(end)


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

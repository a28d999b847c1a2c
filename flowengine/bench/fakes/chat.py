"""What the chat-model fakes share: scripted replies (text and/or tool calls, token counts, a mid-stream error)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from flowengine.bench.fakes.server import FakeServer


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text and/or tool calls (name, arguments JSON); `error` (the vendor's error type)
    makes the stream break with the vendor's mid-stream error after the text."""

    text: str = ""
    tool_calls: tuple[tuple[str, str], ...] = ()
    usage: tuple[int, int] = (11, 7)  # input, output tokens
    chunk_chars: int = 4  # how finely text and tool arguments are split across events
    error: str = ""

    def pieces(self, text: str) -> list[str]:
        n = max(1, self.chunk_chars)
        return [text[i:i + n] for i in range(0, len(text), n)]


class ChatFake(FakeServer):
    """A FakeServer answering from a script: `fake.script(Reply(...), ...)`; an empty script says "Hello."."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.replies: deque[Reply] = deque()

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self) -> Reply:
        return self.replies.popleft() if self.replies else Reply(text="Hello.")

"""Text-only AI calls (no media): `task` runs headless until it calls stop_service; `conversation` answers messages."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from flowengine.providers.llm.base import ChatMessage, LLMProvider, TextDelta, ToolCall, ToolCallRequest, ToolSpec

log = logging.getLogger(__name__)

TASK_PROMPT = (
    "You are a headless workflow executor. Nobody reads your text: act only through the tools you "
    "are given, and call stop_service when the task is done."
)
TASK_TIMEOUT_S = 30.0  # VoIPBIN's forced terminate of AI tasks
MAX_TASK_ROUNDS = 10

ToolRunner = Callable[[ToolCall], Awaitable[tuple[str, str | None]]]


@dataclass
class TextConversation:
    """The model and its messages, without audio: `reply()` runs one assistant turn, executing the
    tool calls it makes; `ended` is set by a tool that ends the AI call."""

    llm: LLMProvider
    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    on_tool: ToolRunner | None = None
    on_message: Callable[[ChatMessage], Awaitable[None]] | None = None
    ended: str = ""

    async def _emit(self, message: ChatMessage) -> None:
        self.messages.append(message)
        if self.on_message is not None:
            await self.on_message(message)

    async def reply(self) -> str:
        """One assistant turn; returns its text."""
        text: list[str] = []
        calls: list[ToolCall] = []
        async for event in self.llm.stream(self.messages, tools=self.tools or None):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ToolCallRequest):
                calls.append(event.call)
        said = "".join(text).strip()
        await self._emit(ChatMessage("assistant", said, tool_calls=tuple(calls)))
        for call in calls:
            if self.on_tool is None:
                result, end = json.dumps({"error": f"tool {call.name} is not available"}), None
            else:
                result, end = await self.on_tool(call)
            await self._emit(ChatMessage("tool", result, tool_call_id=call.id, name=call.name))
            if end is not None:
                self.ended = end
        return said

    async def send(self, text: str) -> str:
        """A user message (conversation AI calls, or a message posted into a live call); the answer."""
        await self._emit(ChatMessage("user", text))
        return await self.reply()

    async def run_task(self, timeout_s: float = TASK_TIMEOUT_S) -> str:
        """Headless: let the model act through its tools until it calls stop_service (or time runs
        out, VoIPBIN's forced terminate). Returns the ended reason."""

        async def rounds() -> str:
            for _ in range(MAX_TASK_ROUNDS):
                await self.reply()
                if self.ended:
                    return self.ended
                if self.messages[-1].role != "tool":  # no tool call: the model has nothing more to do
                    return "task-finished-without-stop-service"
            return "task-round-limit"

        try:
            return await asyncio.wait_for(rounds(), timeout_s)
        except TimeoutError:
            return "task-timed-out"

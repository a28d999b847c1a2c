"""The offline dialog engine as an LLM provider (`rules.<name>`): intents and templates, honestly not a model."""
from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from flowengine.providers.clock import Window
from flowengine.providers.llm.base import (
    LLM_PROVIDERS,
    ChatMessage,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.llm.dialog import Dialog, State, Turn
from flowengine.providers.llm.ruleset import load_rules

log = logging.getLogger(__name__)
_WORD = re.compile(r"\S+\s*")


@LLM_PROVIDERS.register("rules")
class RulesLLM(LLMProvider):
    """Each turn replays the conversation's user messages through the rule set (so the state is the
    history, as with a real model), then streams the reply word by word, then the tool call, then Usage."""

    name = "rules"
    is_llm = False

    def __init__(self, *, model: str = "", api_key: str = "", base_url: str = "",
                 parameter: Mapping[str, Any] | None = None) -> None:
        self.rules = load_rules(model, parameter or {})
        self.model = model
        self.dialog = Dialog(self.rules)

    def __repr__(self) -> str:
        return f"RulesLLM({self.rules.name or self.model}, {len(self.rules.intents)} intents)"

    def request_phrases(self) -> tuple[tuple[str, str], ...]:
        return self.dialog.requests

    def time_window(self) -> Window | None:
        return self.dialog.time_window

    def respond(self, messages: list[ChatMessage]) -> Turn:
        """What the engine says (and does) after `messages`; empty when it has nothing to add."""
        last = messages[-1] if messages else None
        if last is None or last.role == "system":
            spoken = any(m.role in ("user", "assistant") for m in messages)
            return Turn("" if spoken else self.dialog.greeting(), "greeting")
        if last.role == "tool":
            return Turn(self._after_tool(last.content))
        if last.role != "user":
            return Turn("")
        state = State()
        turn = Turn("")
        for message in messages:
            if message.role == "user" and message.content.strip():
                state, turn = self.dialog.step(state, message.content)
        return turn

    def _after_tool(self, content: str) -> str:
        try:
            result = json.loads(content)
        except ValueError:
            return ""
        failed = isinstance(result, dict) and (result.get("result") == "failed" or "error" in result)
        if failed and self.rules.tool_failed:
            return self.dialog.render(self.rules.tool_failed, {})
        return ""

    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[LLMEvent]:
        turn = self.respond(messages)
        log.debug("rules %s: intent %r", self.model, turn.intent or "(fallback)")
        for word in _WORD.findall(turn.reply):
            yield TextDelta(word)
            await asyncio.sleep(0)  # a real yield point, so a barge-in can cancel between words
        if turn.tool:
            name, arguments = turn.tool
            offered = {t.name for t in tools or ()}
            if name in offered:
                yield ToolCallRequest(ToolCall(f"call_rules_{len(messages)}", name, arguments))
            else:  # like a model, the engine can only call the tools it was given (the AI's tool_names)
                log.info("rules %s: intent %r wants tool %r, which this AI does not offer", self.model,
                         turn.intent, name)
        yield Usage(sum(len(m.content.split()) for m in messages), len(turn.reply.split()))

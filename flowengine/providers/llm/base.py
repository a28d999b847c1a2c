"""The LLM provider base: chat messages (+ tools) in, a stream of text deltas and tool calls out."""
from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from flowengine.providers.clock import Window
from flowengine.providers.registry import ProviderRegistry

Role = Literal["system", "user", "assistant", "tool"]


class LLMError(Exception):
    """The model could not answer (after the provider's own retries)."""


class LLMConfigError(LLMError):
    """engine_model or its settings are wrong (unknown provider, missing key...)."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the OpenAI API carries it

    def input(self) -> dict[str, Any]:
        """The arguments as the JSON object native tool-use blocks carry (Anthropic's input, Bedrock's toolUse):
        kept, not dropped, when the model wrote something else."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {"arguments": self.arguments}
        return value if isinstance(value, dict) else {"value": value}


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""  # for role "tool": which call this answers
    name: str = ""


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call (OpenAI function-tool shape)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCallRequest:
    call: ToolCall


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


LLMEvent = TextDelta | ToolCallRequest | Usage


@dataclass(frozen=True)
class ModelRef:
    """`engine_model` split: `openai.gpt-4o` -> provider "openai", model "gpt-4o" (also `provider:model`)."""

    provider: str
    model: str

    @classmethod
    def parse(cls, engine_model: str) -> ModelRef:
        for sep in (".", ":"):
            provider, found, model = engine_model.partition(sep)
            if found and provider and model:
                return cls(provider.strip().lower(), model.strip())
        raise LLMConfigError(f"engine_model {engine_model!r} is not <provider>.<model> (e.g. openai.gpt-4o)")


class LLMProvider(abc.ABC):
    """Subclasses implement `stream`: text deltas as they come, then tool calls, then Usage."""

    name: str = ""
    is_llm: bool = True  # False for the offline rule engine: it never claims to be a language model

    @abc.abstractmethod
    def stream(
        self,
        messages: list[ChatMessage],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """One assistant turn. Cancelling the iteration aborts the request."""

    def request_phrases(self) -> tuple[tuple[str, str], ...]:
        """The requests this model understands, as a caller says them: (what it is, a sentence). An open question's
        grammar for a recogniser that scores sentences (providers/stt/answers.py); empty for a language model,
        which understands anything said."""
        return ()

    def time_window(self) -> Window | None:
        """The times of day this model books (a rule set's opening hours), which a recogniser prefers when it hears
        a time; None for a language model, which says itself what it can book."""
        return None

    async def aclose(self) -> None:
        return None


# Factories take keyword arguments: model (str), api_key (str), base_url (str), parameter (dict).
LLM_PROVIDERS: ProviderRegistry[LLMProvider] = ProviderRegistry("llm")

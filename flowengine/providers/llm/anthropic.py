"""LLM through the official `anthropic` client: Anthropic's Messages API, streamed, with tool use."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from flowengine.providers.cloud import tls_context
from flowengine.providers.llm.base import (
    LLM_PROVIDERS,
    ChatMessage,
    LLMConfigError,
    LLMError,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.llm.endpoints import ANTHROPIC, resolve_api_key, resolve_base_url
from flowengine.providers.llm.openai_compat import Options, redact, server_message
from flowengine.providers.needs import missing_modules

INSTALL_HINT = "`pip install anthropic==2.17.0` (installed by `make deps`)"
DEFAULT_MAX_TOKENS = 1024  # the API requires max_tokens; a spoken turn is far shorter


class AnthropicLLM(LLMProvider):
    """One AsyncAnthropic client (a connection pool) per instance; `aclose` closes it."""

    name = "anthropic"

    def __init__(self, *, model: str, api_key: str, base_url: str, parameter: Mapping[str, Any] | None = None) -> None:
        try:
            from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient
        except ImportError as exc:
            raise LLMConfigError(f"the anthropic LLM needs the anthropic client: {INSTALL_HINT}") from exc
        if not model:
            raise LLMConfigError("engine_model for anthropic names no model (e.g. anthropic.claude-sonnet-4-5)")
        self.model = model
        self.base_url = base_url
        self.options = Options.parse(parameter)
        self._key = api_key
        self._client = AsyncAnthropic(api_key=api_key, base_url=base_url, timeout=self.options.timeout_s,
                                      max_retries=self.options.max_retries,
                                      http_client=DefaultAsyncHttpxClient(verify=tls_context()))

    def __repr__(self) -> str:  # never the key
        return f"AnthropicLLM(anthropic.{self.model} at {self.base_url})"

    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[LLMEvent]:
        import anthropic

        system, turns = to_anthropic(messages)
        request: dict[str, Any] = {"model": self.model, "messages": turns,
                                   "max_tokens": max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS}
        if system:
            request["system"] = system
        if tools:
            request["tools"] = [tool_to_anthropic(t) for t in tools]
        # temperature is not sent: anthropic 2.17's create() has no such parameter any more (the current
        # Messages API dropped the sampling knobs), and smuggling it in extra_body could get the request refused.
        try:
            events = await self._client.messages.create(**request, stream=True)
            try:
                async for event in self._events(events):
                    yield event
            finally:
                await events.close()  # also when the consumer stops early (barge-in): ends the HTTP request
        except (anthropic.AnthropicError, ValueError, AttributeError) as exc:  # not JSON / not the events' shape
            raise self._error(exc) from None  # not chained: server messages may echo part of the key

    async def _events(self, events: Any) -> AsyncIterator[LLMEvent]:
        blocks: dict[int, list[str]] = {}  # index of a tool_use block -> [id, name, input JSON so far]
        usage = [0, 0]
        stopped = False
        async for event in events:
            kind = event.type
            if kind == "message_start":
                usage = [_input_tokens(event.message.usage), event.message.usage.output_tokens]
            elif kind == "content_block_start" and event.content_block.type == "tool_use":
                blocks[event.index] = [event.content_block.id, event.content_block.name, ""]
            elif kind == "content_block_delta":
                if event.delta.type == "text_delta" and event.delta.text:
                    yield TextDelta(event.delta.text)
                elif event.delta.type == "input_json_delta" and event.index in blocks:
                    blocks[event.index][2] += event.delta.partial_json
            elif kind == "content_block_stop" and event.index in blocks:
                call_id, name, arguments = blocks.pop(event.index)
                yield ToolCallRequest(ToolCall(call_id, name, _arguments(arguments)))
            elif kind == "message_delta":
                if event.usage.input_tokens is not None:
                    usage[0] = _input_tokens(event.usage)
                usage[1] = event.usage.output_tokens
            elif kind == "message_stop":
                stopped = True
        if not stopped:
            raise LLMError(f"anthropic model {self.model!r}: the stream ended before message_stop")
        yield Usage(*usage)

    def _error(self, exc: Exception) -> LLMError:
        import anthropic

        where = f"anthropic model {self.model!r}"
        if isinstance(exc, anthropic.APITimeoutError):
            text = f"{where}: no answer within {self.options.timeout_s:g} s (after {self.options.max_retries} retries)"
        elif isinstance(exc, anthropic.APIStatusError) and exc.status_code in (401, 403):
            text = (f"{where}: anthropic refused the API key (HTTP {exc.status_code}): {server_message(exc)} "
                    "(check the AI's engine_key or ANTHROPIC_API_KEY)")
        elif isinstance(exc, anthropic.APIStatusError) and exc.status_code < 300:
            text = f"{where}: error event mid-stream: {server_message(exc)}"
        elif isinstance(exc, anthropic.APIStatusError):
            text = f"{where}: HTTP {exc.status_code}: {server_message(exc)}"
        elif isinstance(exc, anthropic.APIConnectionError):
            text = f"{where}: {exc}"  # "Connection to <host> failed: <why>" (refused, dropped mid-stream...)
        else:
            text = f"{where}: an answer that is not the Messages protocol: {type(exc).__name__}: {exc}"
        return LLMError(redact(text, self._key)[:500])

    async def aclose(self) -> None:
        await self._client.close()


def _input_tokens(usage: Any) -> int:
    """Input tokens as billed: the uncached ones plus those written to and read from the prompt cache."""
    return sum(getattr(usage, f, None) or 0 for f in
               ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def _arguments(partial_json: str) -> str:
    """The concatenated input_json_delta pieces (none: the tool takes no input)."""
    text = partial_json.strip() or "{}"
    json.loads(text)  # a ValueError here is garbage from the server, reported as such
    return text


def tool_to_anthropic(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        out["description"] = tool.description
    return out


def to_anthropic(messages: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(system, messages): system texts joined; tool calls as tool_use blocks, tool results as a user's
    tool_result blocks; consecutive messages of one role merged (the API wants user and assistant to alternate)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            if m.content:
                system.append(m.content)
            continue
        blocks: list[dict[str, Any]] = []
        if m.role == "tool":
            blocks.append({"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content})
        elif m.content:
            blocks.append({"type": "text", "text": m.content})
        if m.role == "assistant":
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.input()}
                       for c in m.tool_calls]
        if not blocks:
            continue  # the API refuses empty text blocks
        role = "assistant" if m.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(system), turns


def _create(*, model: str = "", api_key: str = "", base_url: str = "",
            parameter: Mapping[str, Any] | None = None) -> LLMProvider:
    return AnthropicLLM(model=model, api_key=resolve_api_key(ANTHROPIC, api_key),
                        base_url=resolve_base_url(ANTHROPIC, base_url), parameter=parameter)


def _ready(*, api_key: str = "", **_: object) -> str:
    """The anthropic client installed and a key found (the AI's engine_key or ANTHROPIC_API_KEY)."""
    missing = missing_modules(("anthropic",), f"the anthropic LLM needs the anthropic client: {INSTALL_HINT}")
    if missing:
        return missing
    try:
        resolve_api_key(ANTHROPIC, api_key)
    except LLMConfigError as exc:
        return str(exc)
    return ""


LLM_PROVIDERS.register("anthropic", ready=_ready)(_create)

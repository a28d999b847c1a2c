"""LLM through the official `openai` client for every provider whose chat API is OpenAI-compatible."""
from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from flowengine.providers.llm.endpoints import ENDPOINTS, resolve_api_key, resolve_base_url
from flowengine.providers.needs import missing_modules

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

INSTALL_HINT = "`pip install openai` (installed by `make deps`)"
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MAX_RETRIES = 2


@dataclass(frozen=True)
class Options:
    """The keys of the AI's `parameter` this provider reads (others belong to someone else)."""

    stream: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    include_usage: bool = True  # stream_options.include_usage; turn off for servers that reject it

    @classmethod
    def parse(cls, parameter: Mapping[str, Any] | None) -> Options:
        p = parameter or {}
        problems: list[str] = []

        def number(key: str, default: float, kind: type[float | int]) -> Any:
            try:
                value = kind(p.get(key, default))
                if value < 0:
                    raise ValueError
                return value
            except (TypeError, ValueError):
                problems.append(f"{key} must be a non-negative {kind.__name__}, got {p[key]!r}")
                return default

        def flag(key: str) -> bool:
            value = p.get(key, True)
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool):
                problems.append(f"{key} must be true or false, got {value!r}")
                return True
            return value

        options = cls(stream=flag("stream"), timeout_s=number("timeout_s", DEFAULT_TIMEOUT_S, float),
                      max_retries=number("max_retries", DEFAULT_MAX_RETRIES, int), include_usage=flag("include_usage"))
        if problems:
            raise LLMConfigError("bad LLM parameter: " + "; ".join(problems))
        return options


class OpenAICompatLLM(LLMProvider):
    """One client per provider instance (a connection pool); `aclose` closes it."""

    def __init__(self, *, provider: str, model: str, api_key: str, base_url: str,
                 parameter: Mapping[str, Any] | None = None) -> None:
        try:
            import openai  # noqa: F401  (the client's package: missing, a clear config error)
        except ImportError as exc:
            raise LLMConfigError(f"the {provider} LLM needs the openai client: {INSTALL_HINT}") from exc
        if not model:
            raise LLMConfigError(f"engine_model for {provider} names no model (e.g. {provider}.<model>)")
        self.name = provider
        self.model = model
        self.base_url = base_url
        self.options = Options.parse(parameter)
        self._key = api_key
        self._client = self._make_client()

    def _make_client(self) -> AsyncOpenAI:
        """The client of this provider's flavour of the API (Azure's deployments URLs: providers/llm/azure.py)."""
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        return AsyncOpenAI(api_key=self._key, base_url=self.base_url, timeout=self.options.timeout_s,
                           max_retries=self.options.max_retries,
                           http_client=DefaultAsyncHttpxClient(verify=tls_context()))

    def __repr__(self) -> str:  # never the key
        return f"OpenAICompatLLM({self.name}.{self.model} at {self.base_url})"

    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[LLMEvent]:
        request: dict[str, Any] = {"model": self.model, "messages": [to_openai(m) for m in messages]}
        if tools:
            request["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}} for t in tools]
        if temperature is not None:
            request["temperature"] = temperature
        if max_tokens is not None:
            # OpenAI's newer models refuse max_tokens; the other providers mostly know only max_tokens.
            request["max_completion_tokens" if self.name == "openai" else "max_tokens"] = max_tokens
        import openai

        try:
            if self.options.stream:
                async for event in self._streamed(request):
                    yield event
            else:
                async for event in self._whole(request):
                    yield event
        except (openai.OpenAIError, ValueError) as exc:  # ValueError: a chunk that is not JSON
            raise self._error(exc) from None  # not chained: server messages may echo part of the key

    async def _streamed(self, request: dict[str, Any]) -> AsyncIterator[LLMEvent]:
        if self.options.include_usage:
            request["stream_options"] = {"include_usage": True}
        chunks = await self._client.chat.completions.create(**request, stream=True)
        calls = ToolCallAssembler()
        usage = Usage()
        try:
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices[:1]:  # Azure's first chunk has none (its prompt filter results)
                    if choice.finish_reason == "content_filter":
                        raise self._filtered()
                    if choice.delta.content:
                        yield TextDelta(choice.delta.content)
                    for part in choice.delta.tool_calls or ():
                        fn = part.function
                        calls.add(part.index, part.id, fn.name if fn else None, fn.arguments if fn else None)
        finally:
            await chunks.close()  # also when the consumer stops early (barge-in): frees the connection
        for call in calls.finish():
            yield ToolCallRequest(call)
        yield usage

    async def _whole(self, request: dict[str, Any]) -> AsyncIterator[LLMEvent]:
        response = await self._client.chat.completions.create(**request, stream=False)
        if response.choices:
            if response.choices[0].finish_reason == "content_filter":
                raise self._filtered()
            message = response.choices[0].message
            if message.content:
                yield TextDelta(message.content)
            for i, call in enumerate(message.tool_calls or ()):
                if call.type == "function":
                    yield ToolCallRequest(ToolCall(call.id or f"call_{i}", call.function.name,
                                                   call.function.arguments or "{}"))
        u = response.usage
        yield Usage(u.prompt_tokens, u.completion_tokens) if u else Usage()

    def _filtered(self) -> LLMError:
        return LLMError(f"{self.name} model {self.model!r}: the provider's content filter stopped the answer")

    def _error(self, exc: Exception) -> LLMError:
        import openai

        where = f"{self.name} model {self.model!r}"
        if isinstance(exc, openai.APITimeoutError):
            text = f"{where}: no answer within {self.options.timeout_s:g} s (after {self.options.max_retries} retries)"
        elif isinstance(exc, openai.APIStatusError):
            text = f"{where}: HTTP {exc.status_code}: {server_message(exc)}"
            if exc.status_code in (401, 403):
                text += " (check the AI's engine_key or the provider's API key variable)"
        elif isinstance(exc, openai.APIConnectionError):
            why = f": {exc.__cause__}" if exc.__cause__ and str(exc.__cause__) else ""
            text = f"{where}: {exc}{why} (at {self.base_url})"  # refused, or dropped mid-stream
        elif isinstance(exc, ValueError):
            text = f"{where}: an answer that is not the chat completions protocol: {type(exc).__name__}: {exc}"
        else:
            text = f"{where}: {type(exc).__name__}: {exc}"
        return LLMError(redact(text, self._key)[:500])

    async def aclose(self) -> None:
        await self._client.close()


class ToolCallAssembler:
    """Streamed tool-call fragments (keyed by index; id and name come first, arguments in pieces)."""

    def __init__(self) -> None:
        self._parts: dict[int, list[str]] = {}  # index -> [id, name, arguments]

    def add(self, index: int, call_id: str | None, name: str | None, arguments: str | None) -> None:
        part = self._parts.setdefault(index, ["", "", ""])
        part[0] = part[0] or (call_id or "")
        part[1] += name or ""
        part[2] += arguments or ""

    def finish(self) -> list[ToolCall]:
        return [ToolCall(p[0] or f"call_{i}", p[1], p[2] or "{}") for i, p in sorted(self._parts.items())]


def to_openai(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name and message.role in ("system", "user"):
        out["name"] = message.name
    if message.role == "assistant" and message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    return out


def redact(text: str, key: str) -> str:
    """Servers echo keys back in 401 messages (sometimes partly masked): no part of it leaves here."""
    if len(key) >= 8:
        for piece in (key, key[:8], key[-6:]):
            text = text.replace(piece, "***")
    return text


def server_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:300]
    return str(exc.message)[:300]


def _create(provider: str, *, model: str = "", api_key: str = "", base_url: str = "",
            parameter: Mapping[str, Any] | None = None) -> LLMProvider:
    endpoint = ENDPOINTS[provider]
    return OpenAICompatLLM(provider=provider, model=model, api_key=resolve_api_key(endpoint, api_key),
                           base_url=resolve_base_url(endpoint, base_url), parameter=parameter)


def _ready(provider: str, *, api_key: str = "", **_: object) -> str:
    """The openai client installed and a key found (the AI's engine_key or the provider's variable)."""
    missing = missing_modules(("openai",), f"the {provider} LLM needs the openai client: {INSTALL_HINT}")
    if missing:
        return missing
    try:
        resolve_api_key(ENDPOINTS[provider], api_key)
    except LLMConfigError as exc:
        return str(exc)
    return ""


for _name in ENDPOINTS:
    LLM_PROVIDERS.register(_name, ready=functools.partial(_ready, _name))(functools.partial(_create, _name))

"""LLM through AWS Bedrock's ConverseStream over aiohttp (boto3 is synchronous): a Bedrock API key as a bearer
token or SigV4-signed requests, the answer an application/vnd.amazon.eventstream of Converse events."""
from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import yarl

from flowengine.providers import aws
from flowengine.providers.cloud import TRANSIENT, describe, error_text, json_or_none
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
from flowengine.providers.llm.endpoints import base_url_env
from flowengine.providers.llm.openai_compat import Options, redact

BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"  # a Bedrock API key, as boto3 reads it
SERVICE = "bedrock"  # the SigV4 signing name of bedrock-runtime
RETRY_BACKOFF_S = 0.2
# A conversation must start with a user turn; an AI that greets first gets this one before its greeting.
OPENING = "(the call has started)"


class _Retry(Exception):
    """A failure before any event: worth another attempt (429, 5xx, connection, throttling exception)."""


class BedrockLLM(LLMProvider):
    """One aiohttp session per instance; `aclose` closes it."""

    name = "aws"

    def __init__(self, *, model: str, region: str, base_url: str, bearer: str = "",
                 credentials: aws.Credentials | None = None, parameter: Mapping[str, Any] | None = None) -> None:
        if not model:
            raise LLMConfigError("engine_model for aws names no model (e.g. aws.anthropic.claude-3-5-haiku-20241022-v1:0)")
        self.model = model
        self.region = region
        self.base_url = (base_url or f"https://bedrock-runtime.{region}.amazonaws.com").rstrip("/")
        self.options = Options.parse(parameter)
        self._bearer = bearer
        self._credentials = credentials
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never a key
        how = "API key" if self._bearer else "SigV4"
        return f"BedrockLLM(aws.{self.model} at {self.base_url}, {how})"

    @property
    def url(self) -> str:
        # the model id travels encoded (`v1:0` as `v1%3A0`), as botocore sends it
        return f"{self.base_url}/model/{quote(self.model, safe='')}/converse-stream"

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": aws.EVENTSTREAM}
        if self._bearer:
            return {**headers, "Authorization": f"Bearer {self._bearer}"}
        assert self._credentials is not None  # the factory gives one or the other
        return aws.sign("POST", self.url, headers, body, credentials=self._credentials, service=SERVICE,
                        region=self.region)

    async def stream(
        self,
        messages: list[ChatMessage],
        *,
        tools: list[ToolSpec] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[LLMEvent]:
        request = to_converse(messages)
        inference: dict[str, Any] = {}
        if max_tokens is not None:
            inference["maxTokens"] = max_tokens
        if temperature is not None:
            inference["temperature"] = temperature
        if inference:
            request["inferenceConfig"] = inference
        if tools:
            request["toolConfig"] = {"tools": [{"toolSpec": {
                "name": t.name, "description": t.description or t.name, "inputSchema": {"json": t.parameters}}}
                for t in tools]}
        body = json.dumps(request).encode()
        for attempt in range(self.options.max_retries + 1):
            started = False
            try:
                async for event in self._attempt(body):
                    started = True
                    yield event
                return
            except RETRYABLE as exc:
                if started or attempt == self.options.max_retries:
                    tries = f"after {attempt + 1} attempt{'s' if attempt else ''}"
                    raise self._fail(f"{exc if isinstance(exc, _Retry) else describe(exc)} ({tries})") from None
            await asyncio.sleep(RETRY_BACKOFF_S * 2 ** attempt)

    async def _attempt(self, body: bytes) -> AsyncIterator[LLMEvent]:
        async with self.http.post(yarl.URL(self.url, encoded=True), data=body, headers=self._headers(body)) as answer:
            if answer.status != 200:
                raise await self._refusal(answer)
            if not answer.headers.get("Content-Type", "").startswith(aws.EVENTSTREAM):
                raise self._fail(f"an answer that is not an event stream ({answer.headers.get('Content-Type')})")
            decoder = aws.EventStreamDecoder()
            state = _State()
            try:
                async for data in answer.content.iter_any():
                    for message in decoder.feed(data):
                        for event in state.take(message):
                            yield event
            except (aws.EventStreamError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise self._fail(f"an answer that is not the ConverseStream protocol: {describe(exc)}") from None
            except LLMError as exc:
                raise self._fail(str(exc)) from None
            if decoder.pending or not state.stopped:
                raise self._fail("the stream ended before messageStop")
            yield Usage(*state.usage)

    async def _refusal(self, answer: aiohttp.ClientResponse) -> Exception:
        detail = await error_text(answer)
        parsed = json_or_none(detail)
        message = parsed.get("message") or parsed.get("Message") if isinstance(parsed, dict) else None
        kind = answer.headers.get("x-amzn-ErrorType", "").split(":")[0]
        text = f"{kind + ': ' if kind else ''}{message or detail}"
        if answer.status in (401, 403):
            how = "the AI's engine_key / AWS_BEARER_TOKEN_BEDROCK" if self._bearer else "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            return self._fail(f"aws refused the key (HTTP {answer.status}): {text} (check {how})")
        if answer.status in (408, 429) or answer.status >= 500:
            return _Retry(f"HTTP {answer.status}: {text}")
        return self._fail(f"HTTP {answer.status}: {text}")

    def _fail(self, text: str) -> LLMError:
        secrets = [self._bearer, *([self._credentials.secret_key] if self._credentials else [])]
        for secret in secrets:
            text = redact(text, secret)
        return LLMError(f"aws model {self.model!r}: {text}"[:500])

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=None, connect=5.0, sock_read=self.options.timeout_s))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


RETRYABLE: tuple[type[BaseException], ...] = (_Retry, *TRANSIENT)
RETRYABLE_EXCEPTIONS = {"throttlingException", "serviceUnavailableException", "internalServerException"}


class _State:
    """What the ConverseStream events said so far: tool-use blocks being assembled, usage, whether it stopped."""

    def __init__(self) -> None:
        self.blocks: dict[int, list[str]] = {}
        self.usage = (0, 0)
        self.stopped = False
        self.yielded = False

    def take(self, message: aws.Message) -> list[LLMEvent]:
        payload = json.loads(message.payload or b"{}")
        if message.kind == "exception":
            kind = str(message.headers.get(":exception-type", "exception"))
            text = f"{kind}: {payload.get('message') or payload.get('Message') or ''}"
            raise _Retry(text) if kind in RETRYABLE_EXCEPTIONS and not self.yielded else LLMError(text)
        if message.kind == "error":
            raise LLMError(f"{message.headers.get(':error-code')}: {message.headers.get(':error-message')}")
        events = self._event(str(message.headers.get(":event-type", "")), payload)
        self.yielded = self.yielded or bool(events)
        return events

    def _event(self, kind: str, payload: dict[str, Any]) -> list[LLMEvent]:
        if kind == "contentBlockStart" and "toolUse" in payload["start"]:
            use = payload["start"]["toolUse"]
            self.blocks[payload["contentBlockIndex"]] = [use["toolUseId"], use["name"], ""]
        elif kind == "contentBlockDelta":
            delta = payload["delta"]
            if delta.get("text"):
                return [TextDelta(delta["text"])]
            if "toolUse" in delta and payload["contentBlockIndex"] in self.blocks:
                self.blocks[payload["contentBlockIndex"]][2] += delta["toolUse"].get("input", "")
        elif kind == "contentBlockStop" and payload["contentBlockIndex"] in self.blocks:
            call_id, name, arguments = self.blocks.pop(payload["contentBlockIndex"])
            arguments = arguments.strip() or "{}"
            json.loads(arguments)  # garbage here is the server's fault: a ValueError, reported as such
            return [ToolCallRequest(ToolCall(call_id, name, arguments))]
        elif kind == "messageStop":
            self.stopped = True
            if payload.get("stopReason") == "content_filtered":
                raise LLMError("the provider's content filter stopped the answer")
        elif kind == "metadata":
            usage = payload.get("usage") or {}
            self.usage = (int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)))
        return []


def to_converse(messages: list[ChatMessage]) -> dict[str, Any]:
    """The Converse body's `messages` and `system`: tool calls as toolUse, tool results as a user's toolResult,
    consecutive messages of one role merged, a user turn first."""
    system = [{"text": m.content} for m in messages if m.role == "system" and m.content]
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        blocks: list[dict[str, Any]] = []
        if m.role == "tool":
            blocks.append({"toolResult": {"toolUseId": m.tool_call_id, "content": [{"text": m.content or "(empty)"}]}})
        elif m.content:
            blocks.append({"text": m.content})
        if m.role == "assistant":
            blocks += [{"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.input()}}
                       for c in m.tool_calls]
        if not blocks:
            continue
        role = "assistant" if m.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] == "assistant":
        turns.insert(0, {"role": "user", "content": [{"text": OPENING}]})
    out: dict[str, Any] = {"messages": turns}
    if system:
        out["system"] = system
    return out


def _region(parameter: Mapping[str, Any] | None) -> str:
    value = (parameter or {}).get("region") or aws.region_from_env()
    return str(value).strip()


def _auth(api_key: str, parameter: Mapping[str, Any] | None, base_url: str) -> tuple[str, aws.Credentials | None, str]:
    """(bearer key, SigV4 credentials, region), or LLMConfigError saying what to set."""
    bearer = api_key or os.environ.get(BEARER_ENV, "")
    credentials = None if bearer else aws.Credentials.from_env()
    if not bearer and credentials is None:
        raise LLMConfigError("no credentials for aws (Bedrock): set the AI's engine_key to a Bedrock API key, or "
                             f"{BEARER_ENV}, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    region = _region(parameter)
    if not region and (credentials is not None or not base_url):
        raise LLMConfigError("no region for aws (Bedrock): set the AI's parameter region or AWS_REGION / "
                             "AWS_DEFAULT_REGION")
    return bearer, credentials, region


def _create(*, model: str = "", api_key: str = "", base_url: str = "",
            parameter: Mapping[str, Any] | None = None) -> LLMProvider:
    base_url = base_url or os.environ.get(base_url_env("aws"), "")
    bearer, credentials, region = _auth(api_key, parameter, base_url)
    return BedrockLLM(model=model, region=region, base_url=base_url, bearer=bearer, credentials=credentials,
                      parameter=parameter)


def _ready(*, api_key: str = "", base_url: str = "", parameter: Mapping[str, Any] | None = None, **_: object) -> str:
    """A Bedrock API key or an AWS key pair, and the region."""
    try:
        _auth(api_key, parameter, base_url or os.environ.get(base_url_env("aws"), ""))
    except LLMConfigError as exc:
        return str(exc)
    return ""


LLM_PROVIDERS.register("aws", ready=_ready)(_create)

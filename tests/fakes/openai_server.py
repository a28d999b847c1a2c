"""A local OpenAI-compatible chat server: scripted replies, streamed like OpenAI does, every request recorded."""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text and/or tool calls (name, arguments JSON), or an HTTP error status."""

    text: str = ""
    tool_calls: tuple[tuple[str, str], ...] = ()
    status: int = 200
    error: str = ""
    delay_s: float = 0.0  # before the response starts (timeouts)
    chunk_chars: int = 4  # how finely text and arguments are split across stream chunks
    usage: tuple[int, int] = (11, 7)


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAIServer:
    """`async with FakeOpenAIServer() as server:` then point a client at `server.base_url`."""

    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        # handler_cancellation: a client that timed out and hung up ends its (sleeping) handler at once
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        reply = self.replies.popleft() if self.replies else Reply(status=500, error="no scripted reply left")
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            # retry-after-ms keeps the client's retry back-off short in tests (the openai client honours it)
            return web.json_response(
                {"error": {"message": reply.error or f"scripted {reply.status}", "type": "scripted", "code": None}},
                status=reply.status, headers={"retry-after-ms": "10"})
        if body.get("stream"):
            return await self._stream(request, body, reply)
        return web.json_response(_completion(body["model"], reply))

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        model, created, n = body["model"], int(time.time()), reply.chunk_chars

        async def send(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        for i in range(0, len(reply.text), n):
            await send({"content": reply.text[i:i + n]})
        for index, (name, arguments) in enumerate(reply.tool_calls):
            # Like OpenAI: the first fragment carries id, type and name; the arguments follow in pieces.
            await send({"tool_calls": [{"index": index, "id": f"call_{index}_fake", "type": "function",
                                        "function": {"name": name, "arguments": ""}}]})
            for i in range(0, len(arguments), n):
                await send({"tool_calls": [{"index": index, "function": {"arguments": arguments[i:i + n]}}]})
        await send({}, "tool_calls" if reply.tool_calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [], "usage": _usage(reply)}
            await response.write(f"data: {json.dumps(usage)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion(model: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": f"call_{i}_fake", "type": "function",
                                  "function": {"name": name, "arguments": arguments}}
                                 for i, (name, arguments) in enumerate(reply.tool_calls)]
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": _usage(reply)}

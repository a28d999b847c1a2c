"""A local Anthropic Messages API: POST /v1/messages streamed as the documented SSE events (ping included,
tool_use input in input_json_delta pieces), error bodies and statuses, the mid-stream `error` event.

The key is taken as the documented `x-api-key` or as `Authorization: Bearer` (what the anthropic 2.17 client
sends, with anthropic-version 2026-10-21); the version header must be one of the dated versions known here."""
from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.chat import ChatFake, Reply
from flowengine.bench.fakes.streaming import drop, watched

VERSIONS = ("2023-06-01", "2026-10-21")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}


class FakeAnthropicLLM(ChatFake):
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    def authorized(self, request: web.Request) -> bool:
        return self.api_key in (request.headers.get("x-api-key"),
                                request.headers.get("Authorization", "").removeprefix("Bearer "))

    def error(self, status: int, message: str) -> web.Response:
        if status == 401:
            message = "invalid x-api-key"
        kind = ERROR_TYPES.get(status, "api_error")
        return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = self.record(request, body)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        if request.headers.get("anthropic-version") not in VERSIONS:
            return self.error(400, f"anthropic-version must be one of {', '.join(VERSIONS)}")
        if problem := _invalid(body):
            return self.error(400, problem)
        reply = self.next_reply()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        sent = 0

        async def send(event: str, data: dict[str, Any]) -> bool:
            """False when an injected drop broke the stream here."""
            nonlocal sent
            if self.drop_now(sent):
                drop(request)
                return False
            await self.pace()
            await response.write(f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode())
            sent += 1
            return True

        async with watched(entry):
            for event, data in _events(body["model"], reply, garbage=self.faults.garbage):
                if event == "garbage":
                    await response.write(b"event: content_block_delta\ndata: {\"type\": \"content_bl\n\n")
                    break
                if not await send(event, data):
                    return response
            await response.write_eof()
        return response


def _invalid(body: Any) -> str:
    if not isinstance(body, dict):
        return "the body is not JSON"
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    if body.get("stream") is not True:
        return "this fake answers streamed requests only"
    roles = [m.get("role") for m in body["messages"]]
    if any(a == b for a, b in itertools.pairwise(roles)) or any(r not in ("user", "assistant") for r in roles):
        return "messages: roles must alternate between \"user\" and \"assistant\""
    for m in body["messages"]:
        for block in m["content"] if isinstance(m["content"], list) else ():
            if block.get("type") == "text" and not block.get("text"):
                return "messages: text content blocks must be non-empty"
    return ""


def _events(model: str, reply: Reply, *, garbage: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The documented order: message_start, ping, each block's start/deltas/stop, message_delta, message_stop."""
    prompt, completion = reply.usage
    out: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": {"id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                                       "model": model, "stop_reason": None, "stop_sequence": None,
                                       "usage": {"input_tokens": prompt, "output_tokens": 1}}}),
        ("ping", {})]
    if garbage:
        return [*out, ("garbage", {})]
    index = 0
    if reply.text:
        out.append(("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        out += [("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
                for piece in reply.pieces(reply.text)]
        out.append(("content_block_stop", {"index": 0}))
        index = 1
    if reply.error:
        return [*out, ("error", {"error": {"type": reply.error, "message": "Overloaded"}})]
    for i, (name, arguments) in enumerate(reply.tool_calls, start=index):
        out.append(("content_block_start", {"index": i, "content_block": {
            "type": "tool_use", "id": f"toolu_fake{i}", "name": name, "input": {}}}))
        out += [("content_block_delta", {"index": i, "delta": {"type": "input_json_delta", "partial_json": piece}})
                for piece in ["", *reply.pieces(arguments)]]
        out.append(("content_block_stop", {"index": i}))
    out.append(("message_delta", {"delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn",
                                            "stop_sequence": None}, "usage": {"output_tokens": completion}}))
    out.append(("message_stop", {}))
    return out

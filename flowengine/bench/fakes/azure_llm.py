"""A local Azure OpenAI chat endpoint: POST /openai/deployments/{deployment}/chat/completions?api-version=...
with the api-key header, streamed as OpenAI chunks plus Azure's extras (a first chunk with no choices carrying
prompt_filter_results, content_filter_results, the content_filter finish reason), then `data: [DONE]`."""
from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from flowengine.bench.fakes.chat import ChatFake, Reply
from flowengine.bench.fakes.streaming import drop, watched

API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
NO_FILTER = {"hate": {"filtered": False, "severity": "safe"}, "self_harm": {"filtered": False, "severity": "safe"},
             "sexual": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}


class FakeAzureLLM(ChatFake):
    """Reply.error = "content_filter" ends the answer with that finish reason after the text."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._completions)

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("api-key") == self.api_key

    def error(self, status: int, message: str) -> web.Response:
        if status == 401:
            message = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
                       "valid key for an active subscription and use a correct regional API endpoint for your resource.")
        return web.json_response({"error": {"code": str(status), "message": message}}, status=status)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        entry = self.record(request, body)
        if (refusal := await self.refused(request)) is not None:
            return refusal
        if not API_VERSION.match(request.query.get("api-version", "")):
            return web.json_response({"error": {"code": "404", "message": "Resource not found"}}, status=404)
        if not isinstance(body, dict) or "messages" not in body:
            return self.error(400, "'messages' is a required property")
        reply = self.next_reply()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.faults.garbage:
            await response.write(b"data: {\"choices\": [{\"delta\": \n\n")
            return response
        async with watched(entry):
            for sent, chunk in enumerate(_chunks(request.match_info["deployment"], body, reply)):
                if self.drop_now(sent):
                    drop(request)
                    return response
                await self.pace()
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        return response


def _chunks(deployment: str, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    created = int(time.time())
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": deployment,
            "system_fingerprint": "fp_fake"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None,
                                     "content_filter_results": {} if finish else NO_FILTER}]}

    out = [{"id": "", "object": "", "created": 0, "model": "", "choices": [],
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": NO_FILTER}]},
           chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": piece}) for piece in reply.pieces(reply.text)]
    if reply.error == "content_filter":
        return [*out, chunk({}, "content_filter")]
    for index, (name, arguments) in enumerate(reply.tool_calls):
        out.append(chunk({"tool_calls": [{"index": index, "id": f"call_{index}_fake", "type": "function",
                                          "function": {"name": name, "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in reply.pieces(arguments)]
    out.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        prompt, completion = reply.usage
        out.append({**base, "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                      "total_tokens": prompt + completion}})
    return out

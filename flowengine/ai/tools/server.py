"""Calls a declared `function` tool's server: a signed JSON POST (Vapi `tool-calls` message) within its timeout."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from flowengine.ai.tools.signing import SIGNATURE_HEADER, sign
from flowengine.providers.llm.base import ToolCall

log = logging.getLogger(__name__)
MAX_RESULT_CHARS = 8000  # what goes back to the model


@dataclass(frozen=True)
class ServerAnswer:
    ok: bool
    result: str  # the server's result for this call, or what went wrong (told to the model)


def request_body(call: ToolCall, aicall: dict[str, Any]) -> dict[str, Any]:
    """Vapi's server message for a tool call: {message: {type: tool-calls, toolCallList, call}}."""
    try:
        arguments: Any = json.loads(call.arguments or "{}")
    except ValueError:
        arguments = call.arguments
    item = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}
    return {"message": {"type": "tool-calls", "toolCallList": [item], "toolWithToolCallList": [
        {"type": "function", "function": {"name": call.name}, "toolCall": item}], "call": aicall}}


def _result_of(call: ToolCall, answer: Any) -> ServerAnswer:
    """Vapi's answer shape {results: [{toolCallId, result | error}]}; any other JSON is passed on whole."""
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        for item in answer["results"]:
            if isinstance(item, dict) and item.get("toolCallId") in (call.id, None):
                if item.get("error"):
                    return ServerAnswer(False, f"the tool server reported an error: {item['error']}")
                value = item.get("result", "")
                return ServerAnswer(True, value if isinstance(value, str) else json.dumps(value))
        return ServerAnswer(False, f"the tool server answered no result for tool call {call.id}")
    return ServerAnswer(True, json.dumps(answer))


async def call_server(http: aiohttp.ClientSession, url: str, secret: str, timeout_s: float, call: ToolCall,
                      aicall: dict[str, Any]) -> ServerAnswer:
    body = json.dumps(request_body(call, aicall)).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        async with asyncio.timeout(timeout_s):
            async with http.post(url, data=body, headers=headers) as response:
                text = await response.text()
                if response.status >= 300:
                    return ServerAnswer(False, f"the tool server answered HTTP {response.status}")
    except TimeoutError:
        log.info("tool %s: server %s gave no answer within %.1f s", call.name, url, timeout_s)
        return ServerAnswer(False, f"the tool server did not answer within {timeout_s:g} seconds (timed out)")
    except aiohttp.ClientError as exc:
        return ServerAnswer(False, f"the tool server could not be reached: {type(exc).__name__}")
    try:
        answer = json.loads(text) if text.strip() else ""
    except ValueError:
        answer = text
    outcome = _result_of(call, answer) if not isinstance(answer, str) else ServerAnswer(True, answer)
    return ServerAnswer(outcome.ok, outcome.result[:MAX_RESULT_CHARS])

"""VoiceOS webhooks of a conversation: each event to the agent's webhooks that list it (and whose filter matches).

Body: `{"event": <name>, "conversation_id", "agent_id", "data": {...}, "timestamp"}`, with the webhook's
own headers and method. When: phone_call:connection_requested (dialling), phone_call:accepted (answered),
phone_call:rejected (never answered), conversation:started (the AI call runs), speech:started/ended (caller
or agent, `data.who`), message:sent (the caller's words), message:generated (the agent's), conversation:duration
and then conversation:ended (with ended_reason and cost_breakdown) at the end. function_call:triggered is sent
when the model calls a tool; the first webhook's answer (`{"result": ...}` or any body) is the tool result."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from flowengine.ai import events as ev
from flowengine.api.callhooks import FrontDoorHooks
from flowengine.api.frontcalls import aicall_parts
from flowengine.api.voiceos.filter import matches
from flowengine.api.voiceos.views import conversation_view
from flowengine.events import Event
from flowengine.store import Store
from flowengine.store.frontdoor import FrontCall
from flowengine.store.timestamps import NOT_YET

if TYPE_CHECKING:
    from flowengine.ai.aicall import LiveAICall
    from flowengine.providers.llm.base import ToolCall

log = logging.getLogger(__name__)
TOOL_TIMEOUT_S = 20.0

Target = tuple[dict[str, Any], dict[str, str]]  # a webhook of the agent and its headers


def _body(record: FrontCall, name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": name, "conversation_id": record.id, "agent_id": record.config.get("_agent_id"),
            "data": data, "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}


class VoiceOSHooks(FrontDoorHooks):
    """The webhooks of the VoiceOS conversations. `headers` holds each conversation's webhook headers (memory
    only: they usually carry credentials) until it ended."""

    kind = "voiceos"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.headers: dict[str, list[dict[str, str]]] = {}

    def _targets(self, record: FrontCall, body: dict[str, Any]) -> list[Target]:
        hooks = record.config.get("webhooks") or []
        headers = self.headers.get(record.id) or []
        out = []
        for i, hook in enumerate(hooks):
            if body["event"] in hook.get("events", []) and matches(hook.get("filter"), body):
                out.append((hook, headers[i] if i < len(headers) else {}))
        return out

    async def _send(self, record: FrontCall, name: str, data: dict[str, Any]) -> None:
        body = _body(record, name, data)
        raw = json.dumps(body, separators=(",", ":")).encode()
        for hook, headers in self._targets(record, body):
            await self.sender.send(hook["url"], raw, None, hook.get("method", "POST"), extra_headers=headers)

    async def status(self, call: FrontCall) -> None:
        if call.status == "queued":
            await self._send(call, "phone_call:connection_requested", {"to_number": call.to_number,
                                                                       "from_number": call.from_number})
        elif call.status == "in-progress":
            await self._send(call, "phone_call:accepted", {"to_number": call.to_number})
        elif call.status == "ended":
            if call.tm_start == NOT_YET:
                await self._send(call, "phone_call:rejected", {"reason": call.ended_reason})
            else:
                seconds = (call.tm_end - call.tm_start).total_seconds()
                await self._send(call, "conversation:duration", {"seconds": round(seconds, 3)})
                view = conversation_view(call, *await aicall_parts(self.store, call))
                await self._send(call, "conversation:ended", {"ended_reason": view["ended_reason"],
                                                              "conversation": view})
            self.headers.pop(call.id, None)

    async def event(self, call: FrontCall, event: Event) -> None:
        data = event.data
        if event.type == "aicall_status_progressing":
            await self._send(call, "conversation:started", {})
        elif event.type == ev.AIMESSAGE_CREATED and data.get("content"):
            role = data.get("role")
            if role in ("user", "assistant"):
                await self._send(call, "message:sent" if role == "user" else "message:generated",
                                 {"role": "user" if role == "user" else "agent", "content": data["content"]})
        elif event.type in (ev.SPEECH_STARTED, ev.SPEECH_ENDED):
            who = "user" if data.get("who") == "caller" else "agent"
            await self._send(call, "speech:started" if event.type == ev.SPEECH_STARTED else "speech:ended",
                             {"who": who})

    async def relay(self, call: FrontCall, live: LiveAICall, tool_call: ToolCall) -> tuple[bool, str] | None:
        """function_call:triggered to every webhook listing it; the first one's answer is the tool result."""
        try:
            arguments: Any = json.loads(tool_call.arguments or "{}")
        except ValueError:
            arguments = tool_call.arguments
        body = _body(call, "function_call:triggered",
                     {"id": tool_call.id, "name": tool_call.name, "arguments": arguments})
        targets = self._targets(call, body)
        if not targets:
            return False, "no webhook answers function calls for this agent"
        raw = json.dumps(body, separators=(",", ":")).encode()
        hook, headers = targets[0]
        for other, other_headers in targets[1:]:  # the others are told, the first one answers
            await self.sender.send(other["url"], raw, None, other.get("method", "POST"), extra_headers=other_headers)
        try:
            async with asyncio.timeout(TOOL_TIMEOUT_S):
                async with self.http.request(hook.get("method", "POST"), hook["url"], data=raw,
                                             headers={**headers, "Content-Type": "application/json"}) as reply:
                    text = await reply.text()
                    if reply.status >= 300:
                        return False, f"the webhook answered HTTP {reply.status}"
        except TimeoutError:
            return False, f"the webhook did not answer within {TOOL_TIMEOUT_S:g} seconds"
        except aiohttp.ClientError as exc:
            return False, f"the webhook could not be reached: {type(exc).__name__}"
        return True, _tool_result(text)


def _tool_result(text: str) -> str:
    """The tool result in a webhook's answer: `result` of a JSON object, else the whole body."""
    try:
        answer = json.loads(text) if text.strip() else ""
    except ValueError:
        return text
    if isinstance(answer, dict) and "result" in answer:
        value = answer["result"]
        return value if isinstance(value, str) else json.dumps(value)
    return answer if isinstance(answer, str) else json.dumps(answer)

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
from typing import Any

import aiohttp

from flowengine.ai import events as ev
from flowengine.api.frontcalls import aicall_parts
from flowengine.api.frontdoor import FrontDoor, Notifier
from flowengine.api.voiceos.filter import matches
from flowengine.api.voiceos.views import conversation_view
from flowengine.events import Event
from flowengine.store.frontdoor import FrontCall
from flowengine.store.timestamps import NOT_YET

log = logging.getLogger(__name__)
TOOL_TIMEOUT_S = 20.0
HEADERS_KEY = "voiceos_headers"  # FrontDoor.deps.extra: call id -> the webhooks' headers (memory only)


def _headers(door: FrontDoor) -> dict[str, list[dict[str, str]]]:
    found = door.deps.extra.setdefault(HEADERS_KEY, {})
    assert isinstance(found, dict)
    return found


def _body(record: FrontCall, name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": name, "conversation_id": record.id, "agent_id": record.config.get("_agent_id"),
            "data": data, "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}


def _targets(door: FrontDoor, record: FrontCall, body: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    hooks = record.config.get("webhooks") or []
    headers = _headers(door).get(record.id) or []
    out = []
    for i, hook in enumerate(hooks):
        if body["event"] in hook.get("events", []) and matches(hook.get("filter"), body):
            out.append((hook, headers[i] if i < len(headers) else {}))
    return out


def install(door: FrontDoor) -> None:
    if "voiceos" in door.notifiers:
        return

    async def send(record: FrontCall, name: str, data: dict[str, Any]) -> None:
        body = _body(record, name, data)
        raw = json.dumps(body, separators=(",", ":")).encode()
        for hook, headers in _targets(door, record, body):
            await door.sender.send(hook["url"], raw, None, hook.get("method", "POST"), extra_headers=headers)

    async def status(record: FrontCall) -> None:
        if record.status == "queued":
            await send(record, "phone_call:connection_requested", {"to_number": record.to_number,
                                                                   "from_number": record.from_number})
        elif record.status == "in-progress":
            await send(record, "phone_call:accepted", {"to_number": record.to_number})
        elif record.status == "ended":
            if record.tm_start == NOT_YET:
                await send(record, "phone_call:rejected", {"reason": record.ended_reason})
            else:
                seconds = (record.tm_end - record.tm_start).total_seconds()
                await send(record, "conversation:duration", {"seconds": round(seconds, 3)})
                view = conversation_view(record, *await aicall_parts(door.deps.store, record))
                await send(record, "conversation:ended", {"ended_reason": view["ended_reason"],
                                                          "conversation": view})
            _headers(door).pop(record.id, None)

    async def event(record: FrontCall, event: Event) -> None:
        data = event.data
        if event.type == "aicall_status_progressing":
            await send(record, "conversation:started", {})
        elif event.type == ev.AIMESSAGE_CREATED and data.get("content"):
            role = data.get("role")
            if role in ("user", "assistant"):
                await send(record, "message:sent" if role == "user" else "message:generated",
                           {"role": "user" if role == "user" else "agent", "content": data["content"]})
        elif event.type in (ev.SPEECH_STARTED, ev.SPEECH_ENDED):
            who = "user" if data.get("who") == "caller" else "agent"
            await send(record, "speech:started" if event.type == ev.SPEECH_STARTED else "speech:ended", {"who": who})

    async def relay(record: FrontCall, live: Any, call: Any) -> tuple[bool, str] | None:
        try:
            arguments: Any = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = call.arguments
        body = _body(record, "function_call:triggered", {"id": call.id, "name": call.name, "arguments": arguments})
        targets = _targets(door, record, body)
        if not targets:
            return False, "no webhook answers function calls for this agent"
        raw = json.dumps(body, separators=(",", ":")).encode()
        hook, headers = targets[0]
        for other, other_headers in targets[1:]:  # the others are told, the first one answers
            await door.sender.send(other["url"], raw, None, other.get("method", "POST"), extra_headers=other_headers)
        try:
            async with asyncio.timeout(TOOL_TIMEOUT_S):
                async with door.http.request(hook.get("method", "POST"), hook["url"], data=raw,
                                             headers={**headers, "Content-Type": "application/json"}) as reply:
                    text = await reply.text()
                    if reply.status >= 300:
                        return False, f"the webhook answered HTTP {reply.status}"
        except TimeoutError:
            return False, f"the webhook did not answer within {TOOL_TIMEOUT_S:g} seconds"
        except aiohttp.ClientError as exc:
            return False, f"the webhook could not be reached: {type(exc).__name__}"
        try:
            answer = json.loads(text) if text.strip() else ""
        except ValueError:
            return True, text
        if isinstance(answer, dict) and "result" in answer:
            value = answer["result"]
            return True, value if isinstance(value, str) else json.dumps(value)
        return True, answer if isinstance(answer, str) else json.dumps(answer)

    door.notifiers["voiceos"] = Notifier(event=event, status=status, relay=relay)

"""Vapi serverUrl messages for Vapi-created calls: status-update, transcript, speech-update, conversation-update,
end-of-call-report, POSTed as `{"message": {...}}`, signed `X-VoIPBIN-Signature: sha256=<HMAC(serverUrlSecret)>`.

`tool-calls` go to the tool's server (a function tool without one uses the assistant's serverUrl), from the
AI call's toolbox, which waits for the result: they are not sent again from here."""
from __future__ import annotations

import json
import time
from typing import Any

from flowengine.ai import events as ev
from flowengine.ai.eventmap import VAPI_ROLE
from flowengine.ai.postcall.outcome import END_OF_CALL_REPORT
from flowengine.api.frontcalls import aicall_parts
from flowengine.api.frontdoor import FrontDoor, Notifier
from flowengine.api.vapi.views import call_view
from flowengine.events import Event
from flowengine.store.frontdoor import FrontCall

ROLE = {"assistant": "assistant", "user": "user"}


def _wanted(record: FrontCall) -> tuple[str, list[str]]:
    server = record.config.get("_server") or {}
    return str(server.get("url", "")), list(server.get("messages") or [])


def install(door: FrontDoor) -> None:
    if "vapi" in door.notifiers:
        return

    async def send(record: FrontCall, message: dict[str, Any]) -> None:
        url, wanted = _wanted(record)
        if not url or message["type"] not in wanted:
            return
        message["timestamp"] = int(time.time() * 1000)
        aicall, messages = await aicall_parts(door.deps.store, record)
        message.setdefault("call", call_view(record, aicall, messages))
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        await door.sender.send(url, body, door.secrets.get(record.id) or None)

    async def status(record: FrontCall) -> None:
        message: dict[str, Any] = {"type": "status-update", "status": record.status}
        if record.status == "ended":
            message["endedReason"] = record.ended_reason
        await send(record, message)
        if record.status == "ended" and record.aicall_id == "00000000-0000-0000-0000-000000000000":
            door.secrets.pop(record.id, None)  # never answered: no report will follow

    async def event(record: FrontCall, event: Event) -> None:
        data = event.data
        if event.type == ev.AIMESSAGE_CREATED and data.get("role") in ROLE and data.get("content"):
            if data.get("role") == "user":
                await send(record, {"type": "transcript", "role": "user", "transcriptType": "final",
                                    "transcript": data["content"]})
            aicall, messages = await aicall_parts(door.deps.store, record)
            view = call_view(record, aicall, messages)
            await send(record, {"type": "conversation-update", "messages": view["messages"], "call": view})
        elif event.type in (ev.SPEECH_STARTED, ev.SPEECH_ENDED):
            await send(record, {"type": "speech-update", "role": VAPI_ROLE.get(str(data.get("who")), "assistant"),
                                "status": "started" if event.type == ev.SPEECH_STARTED else "stopped"})
        elif event.type == END_OF_CALL_REPORT:
            fresh = await door.deps.store.frontcalls.get(record.customer_id, record.id)
            aicall, messages = await aicall_parts(door.deps.store, fresh)
            view = call_view(fresh, aicall, messages)
            await send(fresh, {"type": "end-of-call-report", "endedReason": fresh.ended_reason or data.get(
                "ended_reason", ""), "call": view, "transcript": view["transcript"], "messages": view["messages"],
                "analysis": view.get("analysis", {}), "costBreakdown": view.get("costBreakdown", {}),
                "cost": view.get("cost", 0), "startedAt": view.get("startedAt"), "endedAt": view.get("endedAt"),
                "summary": view.get("analysis", {}).get("summary", "")})
            door.secrets.pop(record.id, None)

    door.notifiers["vapi"] = Notifier(event=event, status=status)

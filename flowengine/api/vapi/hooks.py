"""Vapi serverUrl messages for Vapi-created calls: status-update, transcript, speech-update, conversation-update,
end-of-call-report, POSTed as `{"message": {...}}`, signed `X-VoIPBIN-Signature: sha256=<HMAC(serverUrlSecret)>`.

`tool-calls` go to the tool's server (a function tool without one uses the assistant's serverUrl), from the
AI call's toolbox, which waits for the result: they are not sent again from here."""
from __future__ import annotations

import json
import time
from typing import Any

from flowengine.ai import events as ev
from flowengine.ai.endreasons import vapi_reason
from flowengine.ai.eventmap import VAPI_ROLE
from flowengine.ai.postcall.outcome import END_OF_CALL_REPORT
from flowengine.api.callhooks import FrontDoorHooks
from flowengine.api.frontcalls import aicall_parts
from flowengine.api.vapi.views import call_view
from flowengine.events import Event
from flowengine.store import Store
from flowengine.store.frontdoor import FrontCall
from flowengine.store.records import NIL_ID

ROLE = {"assistant": "assistant", "user": "user"}


def _wanted(record: FrontCall) -> tuple[str, list[str]]:
    server = record.config.get("_server") or {}
    return str(server.get("url", "")), list(server.get("messages") or [])


class VapiHooks(FrontDoorHooks):
    """The server messages of the Vapi calls. `secrets` holds each call's serverUrlSecret (memory only) until
    its last message was sent."""

    kind = "vapi"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.secrets: dict[str, str] = {}

    async def _send(self, record: FrontCall, message: dict[str, Any]) -> None:
        url, wanted = _wanted(record)
        if not url or message["type"] not in wanted:
            return
        message["timestamp"] = int(time.time() * 1000)
        aicall, messages = await aicall_parts(self.store, record)
        message.setdefault("call", call_view(record, aicall, messages))
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        await self.sender.send(url, body, self.secrets.get(record.id) or None)

    async def status(self, call: FrontCall) -> None:
        message: dict[str, Any] = {"type": "status-update", "status": call.status}
        if call.status == "ended":
            message["endedReason"] = vapi_reason(call.ended_reason)
        await self._send(call, message)
        if call.status == "ended" and call.aicall_id == NIL_ID:
            self.secrets.pop(call.id, None)  # never answered: no report will follow

    async def event(self, call: FrontCall, event: Event) -> None:
        data = event.data
        if event.type == ev.AIMESSAGE_CREATED and data.get("role") in ROLE and data.get("content"):
            if data.get("role") == "user":
                await self._send(call, {"type": "transcript", "role": "user", "transcriptType": "final",
                                        "transcript": data["content"]})
            aicall, messages = await aicall_parts(self.store, call)
            view = call_view(call, aicall, messages)
            await self._send(call, {"type": "conversation-update", "messages": view["messages"], "call": view})
        elif event.type in (ev.SPEECH_STARTED, ev.SPEECH_ENDED):
            await self._send(call, {"type": "speech-update", "role": VAPI_ROLE.get(str(data.get("who")), "assistant"),
                                    "status": "started" if event.type == ev.SPEECH_STARTED else "stopped"})
        elif event.type == END_OF_CALL_REPORT:
            fresh = await self.store.frontcalls.get(call.customer_id, call.id)
            aicall, messages = await aicall_parts(self.store, fresh)
            view = call_view(fresh, aicall, messages)
            reason = vapi_reason(fresh.ended_reason or str(data.get("ended_reason", "")))
            await self._send(fresh, {"type": "end-of-call-report", "endedReason": reason, "call": view,
                                     "transcript": view["transcript"], "messages": view["messages"],
                                     "analysis": view.get("analysis", {}),
                                     "costBreakdown": view.get("costBreakdown", {}), "cost": view.get("cost", 0),
                                     "startedAt": view.get("startedAt"), "endedAt": view.get("endedAt"),
                                     "summary": view.get("analysis", {}).get("summary", "")})
            self.secrets.pop(call.id, None)

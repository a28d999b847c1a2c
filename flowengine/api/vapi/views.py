"""A front-door call as Vapi shows it: the Call object (status, endedReason, messages, transcript, costs, analysis)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flowengine.ai.endreasons import vapi_reason
from flowengine.store import AIcall, AIMessage
from flowengine.store.frontdoor import FrontCall
from flowengine.store.records import NIL_ID
from flowengine.store.timestamps import NOT_YET

ROLES = {"assistant": "bot", "user": "user", "system": "system", "tool": "tool_call_result"}


def iso(value: datetime) -> str | None:
    """Vapi's ISO 8601 with milliseconds and Z; None for "not yet"."""
    if value == NOT_YET:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def vapi_messages(messages: list[AIMessage], started: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        at = m.tm_create.timestamp()
        base = started.timestamp() if started != NOT_YET else at
        item: dict[str, Any] = {"role": ROLES.get(m.role, m.role), "message": m.content, "time": int(at * 1000),
                                "secondsFromStart": round(max(0.0, at - base), 3)}
        if m.tool_calls:
            item["role"] = "tool_calls"
            item["toolCalls"] = [c.model_dump() for c in m.tool_calls]
        if m.tool_call_id:
            item["toolCallId"] = m.tool_call_id
        out.append(item)
    return out



def transcript(messages: list[AIMessage]) -> str:
    """Vapi's transcript text: `AI: ...` and `User: ...` lines."""
    names = {"assistant": "AI", "user": "User"}
    return "\n".join(f"{names[m.role]}: {m.content}" for m in messages if m.role in names and m.content)


VAPI_SPELLING = {"elevenlabs": "11labs", "assemblyai": "assembly-ai", "rime": "rime-ai"}
"""Vapi's names for providers the engine spells otherwise (its voice and transcriber provider enums)."""


def vapi_costs(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Vapi's `costs`: one entry per provider used, by the provider's name, as Vapi's Call object lists them."""
    out: list[dict[str, Any]] = []
    for line in lines:
        provider = VAPI_SPELLING.get(str(line.get("provider", "")), line.get("provider", ""))
        kind, cost = line.get("type"), line.get("cost", 0)
        if kind == "transcriber":
            out.append({"type": "transcriber", "transcriber": {"provider": provider},
                        "minutes": round(float(line.get("seconds", 0)) / 60, 4), "cost": cost})
        elif kind == "model":
            out.append({"type": "model", "model": {"provider": provider, "model": line.get("model", "")},
                        "promptTokens": line.get("prompt_tokens", 0),
                        "completionTokens": line.get("completion_tokens", 0), "cost": cost})
        elif kind == "voice":
            out.append({"type": "voice", "voice": {"provider": provider}, "characters": line.get("characters", 0),
                        "cost": cost})
        elif kind == "transport":
            out.append({"type": "transport", "provider": provider,
                        "minutes": round(float(line.get("seconds", 0)) / 60, 4), "cost": cost})
    return out


def call_view(record: FrontCall, aicall: AIcall | None, messages: list[AIMessage]) -> dict[str, Any]:
    body = record.config
    costs = (aicall.costs or {}) if aicall is not None else {}
    breakdown = costs.get("vapi")
    analysis = (aicall.analysis or {}) if aicall is not None else {}
    view: dict[str, Any] = {
        "id": record.id, "orgId": record.customer_id, "type": "outboundPhoneCall", "phoneCallTransport": "sip",
        "status": record.status, "createdAt": iso(record.tm_create),
        "updatedAt": iso(record.tm_update if record.tm_update != NOT_YET else record.tm_create),
        "startedAt": iso(record.tm_start), "endedAt": iso(record.tm_end), "name": record.name,
        "metadata": record.metadata, "customer": body.get("customer") or {"number": record.to_number},
        "messages": [m for m in vapi_messages(messages, record.tm_start) if m["role"] != "system"],
        "transcript": transcript(messages),
        "phoneCallProviderId": record.call_id if record.call_id != NIL_ID else None,
    }
    if record.ended_reason:
        view["endedReason"] = vapi_reason(record.ended_reason)
    if breakdown is not None:
        view["costBreakdown"] = breakdown
        view["cost"] = breakdown.get("total", 0)
        view["costs"] = vapi_costs(costs.get("lines") or [])
    if analysis:
        view["analysis"] = {k: analysis[k] for k in ("summary", "structuredData", "successEvaluation")
                            if k in analysis}
    for key in ("assistantId", "assistant", "assistantOverrides", "squadId", "squad", "phoneNumber"):
        if body.get(key) is not None:
            view[key] = body[key]
    return {k: v for k, v in view.items() if v is not None}

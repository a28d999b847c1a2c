"""VoiceOS response shapes: an agent (its configuration + id, uri, account_id, times) and a conversation."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flowengine.ai.endreasons import voiceos_reason
from flowengine.providers.pricing import voiceos_breakdown
from flowengine.store import AIcall, AIMessage
from flowengine.store.frontdoor import Agent, FrontCall
from flowengine.store.timestamps import NOT_YET

STATUS = {"queued": "queued", "ringing": "queued", "in-progress": "started", "ended": "ended"}
ROLES = {"assistant": "agent", "user": "user"}


def iso(value: datetime) -> str | None:
    return None if value == NOT_YET else value.isoformat().replace("+00:00", "Z")


def agent_view(agent: Agent) -> dict[str, Any]:
    return {**agent.config, "id": agent.id, "uri": f"/agents/{agent.id}", "account_id": agent.customer_id,
            "created_at": iso(agent.tm_create),
            "updated_at": iso(agent.tm_update if agent.tm_update != NOT_YET else agent.tm_create)}


def cost_breakdown(aicall: AIcall | None) -> dict[str, Any] | None:
    """VoiceOS's cost_breakdown from the AI call's usage and prices (flowengine.providers.pricing), each line's
    provider one the SDK accepts, the engine's own (piper, whisper, asterisk...) named in `engine_provider`."""
    costs = (aicall.costs or {}) if aicall is not None else {}
    voiceos = costs.get("voiceos")
    if not voiceos:
        return None
    usage = (aicall.usage or {}) if aicall is not None else {}
    return voiceos_breakdown(voiceos, float((usage.get("transport") or {}).get("seconds", 0.0)))


def conversation_view(record: FrontCall, aicall: AIcall | None, messages: list[AIMessage]) -> dict[str, Any]:
    config = {k: v for k, v in record.config.items() if not k.startswith("_")}
    ended = record.status == "ended"
    return {
        "id": record.id, "uri": f"/conversations/{record.id}", "type": "outbound_phone_call",
        "account_id": record.customer_id, "status": STATUS[record.status], "started_at": iso(record.tm_start),
        "ended_at": iso(record.tm_end), "agent_config": config,
        "agent_id": record.config.get("_agent_id"),
        "messages": [{"role": ROLES[m.role], "content": m.content} for m in messages
                     if m.role in ROLES and m.content],
        # VoiceOS's SDK knows one phone-call provider, "twilio" (its TwilioPhoneCall): said for SDK clients to
        # parse; the telephony that really carried the call is named beside it (docs/decisions.md).
        "phone_call": {"provider": "twilio", "to_number": record.to_number, "from_number": record.from_number,
                       "telephony": "asterisk"},
        "ended_reason": voiceos_reason(record.ended_reason) if ended else None,
        "cost_breakdown": cost_breakdown(aicall) if ended else None,
    }

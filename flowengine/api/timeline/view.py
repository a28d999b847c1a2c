"""One call's timeline as the API returns it and as `flowengine calls show` prints it: entries in order with
their offset from the first, the call's end, and a summary (turn latencies, barge-ins, tool calls, webhooks)."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from flowengine.store import Call
from flowengine.store.timelines import TimelineEntry
from flowengine.store.timestamps import NOT_YET, format_timestamp


class TimelineItem(BaseModel):
    tm: str
    t_ms: int  # since the first entry
    type: str
    data: dict[str, Any]


class TimelineSummary(BaseModel):
    actions: int
    turns: int
    voice_to_voice_ms: dict[str, float] | None  # p50 and max over the turns
    barge_ins: int
    tool_calls: int
    webhooks_sent: int
    webhooks_delivered: int
    ai_ended_reason: str | None
    flow_ended_reason: str | None


class CallTimeline(BaseModel):
    """GET /v1.0/calls/{id}/timeline (flowengine's addition): the call, a summary and its entries in order."""

    call_id: str
    status: str
    direction: str
    source: dict[str, Any]
    destination: dict[str, Any]
    hangup_by: str
    hangup_reason: str
    tm_create: str
    tm_hangup: str | None
    summary: TimelineSummary
    result: list[TimelineItem]
    next_page_token: str


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"


def timeline_view(call: Call, entries: Sequence[TimelineEntry]) -> dict[str, Any]:
    start = entries[0].tm if entries else call.tm_create
    turns = [e.data for e in entries if e.type == "turn"]
    v2v = [float(t["voice_to_voice_ms"]) for t in turns if t.get("voice_to_voice_ms") is not None]
    ends = {e.type: e.data for e in entries if e.type in ("flow_ended", "ai_ended")}
    return {
        "call_id": call.id,
        "status": call.status,
        "direction": call.direction,
        "source": call.source.model_dump(),
        "destination": call.destination.model_dump(),
        "hangup_by": call.hangup_by,
        "hangup_reason": call.hangup_reason,
        "tm_create": format_timestamp(call.tm_create),
        "tm_hangup": format_timestamp(call.tm_hangup) if call.tm_hangup != NOT_YET else None,
        "summary": {
            "actions": sum(e.type == "action" for e in entries),
            "turns": len(turns),
            "voice_to_voice_ms": {"p50": statistics.median(v2v), "max": max(v2v)} if v2v else None,
            "barge_ins": sum(e.type == "barge_in" for e in entries),
            "tool_calls": sum(e.type == "tool_call" for e in entries),
            "webhooks_sent": sum(e.type == "webhook" for e in entries),
            "webhooks_delivered": sum(e.type == "webhook" and e.data.get("outcome") == "delivered" for e in entries),
            "ai_ended_reason": ends.get("ai_ended", {}).get("ended_reason"),
            "flow_ended_reason": ends.get("flow_ended", {}).get("ended_reason"),
        },
        "result": [{"tm": format_timestamp(e.tm), "t_ms": round((e.tm - start).total_seconds() * 1000),
                    "type": e.type, "data": e.data} for e in entries],
        "next_page_token": "",
    }


def describe(kind: str, d: dict[str, Any]) -> tuple[str, str]:
    """(label, text) of one entry, for people."""
    match kind:
        case "call_created":
            return "call created", f"{d.get('direction')} {d.get('source')} -> {d.get('destination')}"
        case "call_status":
            return "call", str(d.get("status"))
        case "action":
            return "action", f"{d.get('type')} (id {d.get('id')})"
        case "flow_ended":
            return "flow ended", str(d.get("ended_reason"))
        case "ai_started":
            return "AI started", (f"model {d.get('engine_model') or 'default'}, STT {d.get('stt') or 'default'}, "
                                  f"TTS {d.get('tts') or 'default'}")
        case "ai_paused" | "ai_resumed":
            return kind.replace("_", " ").replace("ai", "AI", 1), ""
        case "ai_ended":
            return "AI ended", str(d.get("ended_reason"))
        case "message":
            return ("caller said" if d.get("role") == "user" else "agent said"), f"\"{d.get('text')}\""
        case "turn":
            cut = ", cut by the caller" if d.get("interrupted") else ""
            return f"turn {d.get('index')}", (
                f"voice-to-voice {_ms(d.get('voice_to_voice_ms'))} ms (endpointing {_ms(d.get('endpointing_ms'))}, "
                f"STT {_ms(d.get('stt_ms'))}, LLM first token {_ms(d.get('llm_first_token_ms'))}, TTS first audio "
                f"{_ms(d.get('tts_first_audio_ms'))}, engine {_ms(d.get('engine_ms'))}){cut}")
        case "barge_in":
            return "barge-in", f"caller interrupted; {_ms(d.get('dropped_ms'))} ms of agent speech dropped"
        case "tool_call":
            return "tool call", f"{d.get('name')}({d.get('arguments')})"
        case "tool_result":
            return "tool result", f"{d.get('name')}: {'ok' if d.get('success') else 'failed'} {d.get('result')}"
        case "webhook":
            status = d.get("status") if d.get("status") is not None else d.get("problem")
            return "webhook", f"{d.get('event_type')} -> {d.get('url')}: {d.get('outcome')} ({status})"
        case "call_hangup":
            return "hangup", f"{d.get('hangup_reason')} (by {d.get('hangup_by') or 'unknown'})"
        case "truncated":
            return "truncated", f"more than {d.get('after_entries')} entries: only the end is kept"
    return kind, str(d)


def render_text(view: dict[str, Any], webhooks: bool = False) -> str:
    """Lines for people; webhooks delivered are only counted unless `webhooks` (those that failed are listed)."""
    src, dst = view["source"], view["destination"]
    lines = [(f"call {view['call_id']}: {view['direction']} {src.get('type')}:{src.get('target')} -> "
             f"{dst.get('type')}:{dst.get('target')}, {view['status']}, started {view['tm_create']}")]
    for entry in view["result"]:
        if entry["type"] == "webhook" and entry["data"].get("outcome") == "delivered" and not webhooks:
            continue
        label, text = describe(entry["type"], entry["data"])
        offset = f"+{entry['t_ms'] / 1000:.3f}s"
        lines.append(f"  {offset:>10}  {label:<14} {text}".rstrip())
    s = view["summary"]
    v2v = s["voice_to_voice_ms"]
    lines.append(f"turns {s['turns']}" + (f" (voice-to-voice p50 {v2v['p50']:.0f} ms, max {v2v['max']:.0f} ms)"
                                          if v2v else "")
                 + f", barge-ins {s['barge_ins']}, tool calls {s['tool_calls']}, webhooks sent {s['webhooks_sent']} "
                 f"({s['webhooks_delivered']} delivered)")
    ended = [f"call {view['hangup_reason'] or 'not ended'}" + (f" (by {view['hangup_by']})" if view['hangup_by'] else "")]
    if s["ai_ended_reason"]:
        ended.append(f"AI {s['ai_ended_reason']}")
    if s["flow_ended_reason"]:
        ended.append(f"flow {s['flow_ended_reason']}")
    lines.append("end: " + "; ".join(ended))
    return "\n".join(lines)

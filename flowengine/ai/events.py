"""What an AI call announces on the engine's event bus (VoIPBIN names, plus tool and speech events)."""
from __future__ import annotations

from typing import Any, Literal

from flowengine.events import EventBus
from flowengine.providers.llm.base import ToolCall
from flowengine.store import AIcall, AIMessage
from flowengine.store.views import view

Speaker = Literal["caller", "agent"]  # data.who of speech events

# Event types published here; eventmap.py maps each to the Vapi and VoiceOS names.
STATUS_PREFIX = "aicall_status_"
AIMESSAGE_CREATED = "aimessage_created"
TOOL_CALL = "aicall_tool_call"  # the model asked for a tool (before it runs)
TOOL_RESULT = "aicall_tool_result"  # the tool's result (what goes back to the model)
SPEECH_STARTED = "aicall_speech_started"  # data.who: caller (VAD start) | agent (first audio of a reply)
SPEECH_ENDED = "aicall_speech_ended"  # caller: end of turn; agent: reply played out or cut off
MEMBER_SWITCHED = "aicall_member_switched"  # a team transition (also stored as a notification message)
# Engine-internal (call timelines, metrics): no VoIPBIN, Vapi or VoiceOS counterpart, so outside the prefixes
# webhooks deliver.
TURN_ENDED = "aiturn_ended"  # a caller turn answered (or cut): its latencies
BARGE_IN = "aiturn_barge_in"  # the caller interrupted the agent: its speech stopped


def status_event(status: str) -> str:
    # VoIPBIN publishes the create as `aicall_status_initializing` though the status is "initiating"
    return f"{STATUS_PREFIX}initializing" if status == "initiating" else f"{STATUS_PREFIX}{status}"


class AICallEvents:
    """Publishes every AI call event; without a bus it does nothing. Status changes and
    aimessage_created carry the record in VoIPBIN's webhook view (as the API shows it)."""

    def __init__(self, bus: EventBus | None) -> None:
        self.bus = bus

    def _emit(self, type: str, record: AIcall, data: dict[str, Any], **extra: Any) -> None:
        if self.bus is not None:
            self.bus.emit(type, record.customer_id, data, aicall_id=record.id, **extra)

    def status(self, record: AIcall) -> None:
        self._emit(status_event(record.status), record, view(record))

    def message(self, record: AIcall, message: AIMessage) -> None:
        self._emit(AIMESSAGE_CREATED, record, view(message))

    def tool_call(self, record: AIcall, call: ToolCall, kind: str) -> None:
        self._emit(TOOL_CALL, record, {"aicall_id": record.id, "activeflow_id": record.activeflow_id,
                                       "tool_call_id": call.id, "name": call.name, "arguments": call.arguments,
                                       "kind": kind})

    def tool_result(self, record: AIcall, call: ToolCall, result: str, success: bool, run_llm: bool) -> None:
        self._emit(TOOL_RESULT, record, {"aicall_id": record.id, "activeflow_id": record.activeflow_id,
                                         "tool_call_id": call.id, "name": call.name, "result": result,
                                         "success": success, "run_llm": run_llm})

    def speech(self, record: AIcall, who: str, started: bool, text: str = "") -> None:
        data = {"aicall_id": record.id, "activeflow_id": record.activeflow_id, "who": who}
        if text:
            data["text"] = text
        self._emit(SPEECH_STARTED if started else SPEECH_ENDED, record, data)

    def member_switched(self, record: AIcall, notification: dict[str, Any]) -> None:
        self._emit(MEMBER_SWITCHED, record, {"aicall_id": record.id, **notification})

    def turn(self, record: AIcall, metrics: dict[str, Any], said: str, interrupted: bool) -> None:
        """`metrics` is the turn's report (TurnMetrics.report()): caller text, latencies in ms, tokens."""
        self._emit(TURN_ENDED, record, {"aicall_id": record.id, "activeflow_id": record.activeflow_id, **metrics,
                                        "agent_text": said, "interrupted": interrupted})

    def barge_in(self, record: AIcall, dropped_ms: float) -> None:
        self._emit(BARGE_IN, record, {"aicall_id": record.id, "activeflow_id": record.activeflow_id,
                                      "dropped_ms": dropped_ms})

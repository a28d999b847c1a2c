"""Which Vapi `serverMessages` type and VoiceOS hook each internal AI call event becomes (for the front doors)."""
from __future__ import annotations

from dataclasses import dataclass

from flowengine.ai import events as ev
from flowengine.ai.postcall.outcome import END_OF_CALL_REPORT


@dataclass(frozen=True)
class Mapping:
    vapi: str  # Vapi server message `type` ("" = Vapi has none)
    voiceos: str  # VoiceOS hook name ("" = VoiceOS has none)
    note: str = ""


# Internal event type -> front-door names. Status events carry the AI call; a front door that
# needs a subtype (Vapi status-update `status`) reads it from the event data.
EVENT_MAP: dict[str, Mapping] = {
    "aicall_status_initializing": Mapping("status-update", "phone_call:connection_requested",
                                          "Vapi status queued"),
    "aicall_status_progressing": Mapping("status-update", "conversation:started",
                                         "Vapi status in-progress; VoiceOS also phone_call:accepted"),
    "aicall_status_pausing": Mapping("status-update", "", "Vapi has no paused status: sent as in-progress"),
    "aicall_status_resuming": Mapping("status-update", "", "Vapi status in-progress"),
    "aicall_status_terminating": Mapping("status-update", "", "Vapi status ended is sent on terminated"),
    "aicall_status_terminated": Mapping("status-update", "",
                                        "Vapi status ended with endedReason; the report follows after analysis"),
    END_OF_CALL_REPORT: Mapping("end-of-call-report", "conversation:ended",
                                "after the post-call analysis: summary, analysis, usage, costs"),
    ev.AIMESSAGE_CREATED: Mapping("conversation-update", "message:sent",
                                  "role user -> Vapi transcript (final) and VoiceOS message:sent; "
                                  "role assistant -> VoiceOS message:generated; tool roles -> conversation-update"),
    ev.TOOL_CALL: Mapping("tool-calls", "function_call:triggered"),
    ev.TOOL_RESULT: Mapping("conversation-update", "", "the tool message joins the conversation"),
    ev.SPEECH_STARTED: Mapping("speech-update", "speech:started", "Vapi status started, role user|assistant"),
    ev.SPEECH_ENDED: Mapping("speech-update", "speech:ended", "Vapi status stopped, role user|assistant"),
    ev.MEMBER_SWITCHED: Mapping("assistant.started", "", "Vapi squad handoff: the new member's assistant"),
}

VAPI_STATUS = {"initiating": "queued", "progressing": "in-progress", "pausing": "in-progress",
               "resuming": "in-progress", "terminating": "in-progress", "terminated": "ended"}
VAPI_ROLE = {"caller": "user", "agent": "assistant"}


def vapi_message_type(event_type: str, data: dict[str, object] | None = None) -> str:
    """The Vapi server message type for an event (message roles pick transcript vs conversation-update)."""
    mapping = EVENT_MAP.get(event_type)
    if mapping is None:
        return ""
    if event_type == ev.AIMESSAGE_CREATED and data is not None and data.get("role") == "user":
        return "transcript"
    return mapping.vapi


def voiceos_hook(event_type: str, data: dict[str, object] | None = None) -> str:
    """The VoiceOS hook for an event (assistant messages are message:generated)."""
    mapping = EVENT_MAP.get(event_type)
    if mapping is None:
        return ""
    if event_type == ev.AIMESSAGE_CREATED and data is not None:
        role = data.get("role")
        if role == "assistant":
            return "message:generated"
        if role != "user":
            return ""
    return mapping.voiceos

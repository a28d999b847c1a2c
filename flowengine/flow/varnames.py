"""Names of the built-in `voipbin.*` variables, as set by the reference services."""
from __future__ import annotations

RESERVED_PREFIX = "voipbin."

_ADDRESS_FIELDS = ("name", "detail", "target", "target_name", "type")

ACTIVEFLOW_ID = "voipbin.activeflow.id"
ACTIVEFLOW_REFERENCE_TYPE = "voipbin.activeflow.reference_type"
ACTIVEFLOW_REFERENCE_ID = "voipbin.activeflow.reference_id"
ACTIVEFLOW_REFERENCE_ACTIVEFLOW_ID = "voipbin.activeflow.reference_activeflow_id"
ACTIVEFLOW_FLOW_ID = "voipbin.activeflow.flow_id"
ACTIVEFLOW_COMPLETE_COUNT = "voipbin.activeflow.complete_count"
ACTIVEFLOW = (
    ACTIVEFLOW_ID,
    ACTIVEFLOW_REFERENCE_TYPE,
    ACTIVEFLOW_REFERENCE_ID,
    ACTIVEFLOW_REFERENCE_ACTIVEFLOW_ID,
    ACTIVEFLOW_FLOW_ID,
    ACTIVEFLOW_COMPLETE_COUNT,
)

CALL_ID = "voipbin.call.id"
CALL_DIRECTION = "voipbin.call.direction"
CALL_MASTER_CALL_ID = "voipbin.call.master_call_id"
CALL_DIGITS = "voipbin.call.digits"
CALL_SOURCE = tuple(f"voipbin.call.source.{f}" for f in _ADDRESS_FIELDS)
CALL_DESTINATION = tuple(f"voipbin.call.destination.{f}" for f in _ADDRESS_FIELDS)
CALL = (CALL_ID, CALL_DIRECTION, CALL_MASTER_CALL_ID, CALL_DIGITS, *CALL_SOURCE, *CALL_DESTINATION)

AICALL = tuple(
    f"voipbin.aicall.{f}"
    for f in ("id", "ai_id", "ai_engine_model", "confbridge_id", "stt_language", "pipecatcall_id")
)
AI_SUMMARY = tuple(
    f"voipbin.ai_summary.{f}" for f in ("id", "reference_type", "reference_id", "language", "content")
)

RECORDING_ID = "voipbin.recording.id"
RECORDING_REFERENCE_TYPE = "voipbin.recording.reference_type"
RECORDING_REFERENCE_ID = "voipbin.recording.reference_id"
RECORDING_FORMAT = "voipbin.recording.format"
RECORDING_NAME = "voipbin.recording.recording_name"
RECORDING_FILENAMES = "voipbin.recording.filenames"
RECORDING = (
    RECORDING_ID,
    RECORDING_REFERENCE_TYPE,
    RECORDING_REFERENCE_ID,
    RECORDING_FORMAT,
    RECORDING_NAME,
    RECORDING_FILENAMES,
)

TRANSCRIBE = tuple(f"voipbin.transcribe.{f}" for f in ("id", "language", "direction"))
QUEUE = (
    *(f"voipbin.queue.{f}" for f in ("id", "name", "detail")),
    *(f"voipbin.queuecall.{f}" for f in ("id", "timeout_wait", "timeout_service")),
)
CONVERSATION = (
    "voipbin.conversation.id",
    "voipbin.conversation.owner_id",
    *(f"voipbin.conversation.self.{f}" for f in _ADDRESS_FIELDS),
    *(f"voipbin.conversation.peer.{f}" for f in _ADDRESS_FIELDS),
    *(f"voipbin.conversation_message.{f}" for f in ("id", "text", "direction")),
)
TTS_HINTS = tuple(f"voipbin.tts.{v}.voice_id" for v in ("elevenlabs", "gcp", "aws"))

FLOW_REFERENCE_DATA = "voipbin.flow.reference_data"
"""The only dynamic name: the JSON of the call's (or conversation's) webhook object."""

CONTACT_CASE_ID = "contact_case_id"
"""Not reserved, but written by `case_create`."""

BUILTIN_NAMES: frozenset[str] = frozenset(
    (
        *ACTIVEFLOW,
        *CALL,
        *AICALL,
        *AI_SUMMARY,
        *RECORDING,
        *TRANSCRIBE,
        *QUEUE,
        *CONVERSATION,
        *TTS_HINTS,
        FLOW_REFERENCE_DATA,
    )
)


def is_reserved(name: str) -> bool:
    """Names under `voipbin.` (any case) belong to the engine, never to external input."""
    return name.strip().lower().startswith(RESERVED_PREFIX)


WRITABLE_BUILTINS: frozenset[str] = frozenset((CALL_DIGITS,))
"""Built-ins a flow may write: the digit buffer, which flows clear before collecting digits (branch clears it too)."""

VARIABLE_SETTERS: dict[str, str] = {"variable_set": "key"}
"""Actions that write a variable named by one of their options (action type -> option)."""


def is_read_only(name: str) -> bool:
    """The engine's own names (`voipbin.*`, any case), which flows may read but not write."""
    return is_reserved(name) and name.strip() not in WRITABLE_BUILTINS


def read_only_write(action_type: str, name: str) -> str:
    """Why `action_type` may not write `name` ("" when it may): validate warns it, the runner logs it."""
    if not is_read_only(name):
        return ""
    return f"variable '{name.strip()}' is read-only (set by the engine): {action_type} ignores this write"

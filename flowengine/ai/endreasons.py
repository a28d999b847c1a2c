"""Why an AI call ended: Vapi's `endedReason` values we set, and their VoIPBIN and VoiceOS equivalents."""
from __future__ import annotations

from typing import Literal

CUSTOMER_ENDED = "customer-ended-call"
ASSISTANT_ENDED = "assistant-ended-call"
END_CALL_PHRASE = "assistant-said-end-call-phrase"
FORWARDED = "assistant-forwarded-call"
SILENCE_TIMED_OUT = "silence-timed-out"
EXCEEDED_MAX_DURATION = "exceeded-max-duration"
VOICEMAIL = "voicemail"
MANUALLY_CANCELED = "manually-canceled"
SERVER_SHUTDOWN = "server-shutdown"  # the engine stopped during the call (set when the next start settles it)
PIPELINE_ERROR_PREFIX = "pipeline-error-"

VoiceOSReason = Literal["agent_ended", "user_ended", "unknown"]


class Ending:
    """How one ended reason shows elsewhere: VoIPBIN call `hangup_by`/`hangup_reason`, VoiceOS `ended_reason`,
    and whether endCallMessage is said first (Vapi says it when the assistant decides to end)."""

    def __init__(self, hangup_by: str, hangup_reason: str, voiceos: VoiceOSReason, says_end_message: bool) -> None:
        self.hangup_by = hangup_by
        self.hangup_reason = hangup_reason
        self.voiceos = voiceos
        self.says_end_message = says_end_message


ENDINGS: dict[str, Ending] = {
    CUSTOMER_ENDED: Ending("remote", "normal", "user_ended", False),
    ASSISTANT_ENDED: Ending("local", "normal", "agent_ended", True),
    END_CALL_PHRASE: Ending("local", "normal", "agent_ended", False),  # the phrase was the goodbye
    FORWARDED: Ending("local", "normal", "agent_ended", False),  # the transfer message is said instead
    SILENCE_TIMED_OUT: Ending("local", "normal", "agent_ended", True),
    EXCEEDED_MAX_DURATION: Ending("local", "timeout", "agent_ended", True),
    VOICEMAIL: Ending("local", "amd", "agent_ended", False),  # voicemailMessage is said instead
    MANUALLY_CANCELED: Ending("local", "normal", "unknown", False),
    SERVER_SHUTDOWN: Ending("local", "failed", "unknown", False),
}
PIPELINE_ERROR = Ending("local", "failed", "unknown", False)
UNKNOWN = Ending("local", "normal", "unknown", False)


def pipeline_error(provider: str, component: Literal["llm", "voice", "transcriber"]) -> str:
    """Vapi's shape: `pipeline-error-openai-llm-failed`, `pipeline-error-piper-voice-failed`..."""
    name = "".join(c if c.isalnum() else "-" for c in provider.lower()).strip("-") or "unknown"
    return f"{PIPELINE_ERROR_PREFIX}{name}-{component}-failed"


def ending(reason: str) -> Ending:
    if reason in ENDINGS:
        return ENDINGS[reason]
    if reason.startswith(PIPELINE_ERROR_PREFIX):
        return PIPELINE_ERROR
    return UNKNOWN


def hangup_reason(reason: str) -> str:
    """VoIPBIN call `hangup_reason` for an AI call's ended reason."""
    return ending(reason).hangup_reason


def voiceos_reason(reason: str) -> VoiceOSReason:
    return ending(reason).voiceos

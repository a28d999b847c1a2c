"""Why an AI call ended: Vapi's `endedReason` values we set (only from Vapi's documented set), and their
VoIPBIN and VoiceOS equivalents.

The one table of reasons is `ENDINGS`; `DOCUMENTED` is Vapi's own list (the create/update call documents,
shared/seeds/003), which every reason the engine sets must belong to (a test holds this)."""
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
CUSTOMER_BUSY = "customer-busy"
CUSTOMER_DID_NOT_ANSWER = "customer-did-not-answer"
NEVER_CONNECTED = "vapi-error-phone-call-worker-call-never-connected"  # the dial failed (the engine is "vapi")
ASSISTANT_ERROR = "assistant-error"  # the engine could not run the assistant, or its own voice/ears failed
UNKNOWN_ERROR = "unknown-error"
PIPELINE_ERROR_PREFIX = "pipeline-error-"

Component = Literal["llm", "voice", "transcriber"]
COMPONENTS: tuple[Component, ...] = ("llm", "voice", "transcriber")
VoiceOSReason = Literal["agent_ended", "user_ended", "unknown"]

DOCUMENTED = frozenset(["assistant-error", "assistant-not-found", "db-error", "no-server-available", "pipeline-error-extra-function-failed", "pipeline-error-first-message-failed", "pipeline-error-function-filler-failed", "pipeline-error-function-failed", "pipeline-error-openai-llm-failed", "pipeline-error-azure-openai-llm-failed", "pipeline-error-together-ai-llm-failed", "pipeline-error-anyscale-llm-failed", "pipeline-error-openrouter-llm-failed", "pipeline-error-perplexity-ai-llm-failed", "pipeline-error-deepinfra-llm-failed", "pipeline-error-runpod-llm-failed", "pipeline-error-groq-llm-failed", "pipeline-error-anthropic-llm-failed", "pipeline-error-openai-voice-failed", "pipeline-error-cartesia-voice-failed", "pipeline-error-deepgram-transcriber-failed", "pipeline-error-deepgram-voice-failed", "pipeline-error-gladia-transcriber-failed", "pipeline-error-eleven-labs-voice-failed", "pipeline-error-playht-voice-failed", "pipeline-error-lmnt-voice-failed", "pipeline-error-azure-voice-failed", "pipeline-error-rime-ai-voice-failed", "pipeline-error-neets-voice-failed", "pipeline-no-available-model", "server-shutdown", "twilio-failed-to-connect-call", "unknown-error", "vonage-disconnected", "vonage-failed-to-connect-call", "phone-call-provider-bypass-enabled-but-no-call-received", "vapi-error-phone-call-worker-setup-socket-error", "vapi-error-phone-call-worker-worker-setup-socket-timeout", "vapi-error-phone-call-worker-could-not-find-call", "vapi-error-phone-call-worker-call-never-connected", "vapi-error-web-call-worker-setup-failed", "assistant-not-invalid", "assistant-not-provided", "call-start-error-neither-assistant-nor-server-set", "assistant-request-failed", "assistant-request-returned-error", "assistant-request-returned-unspeakable-error", "assistant-request-returned-invalid-assistant", "assistant-request-returned-no-assistant", "assistant-request-returned-forwarding-phone-number", "assistant-ended-call", "assistant-said-end-call-phrase", "assistant-forwarded-call", "assistant-join-timed-out", "customer-busy", "customer-ended-call", "customer-did-not-answer", "customer-did-not-give-microphone-permission", "incoming-client-message-say-ended-call", "exceeded-max-duration", "manually-canceled", "phone-call-provider-closed-websocket", "pipeline-error-custom-llm-llm-failed", "pipeline-error-eleven-labs-voice-not-found", "pipeline-error-eleven-labs-quota-exceeded", "pipeline-error-eleven-labs-unauthorized-access", "pipeline-error-eleven-labs-unauthorized-to-access-model", "pipeline-error-eleven-labs-professional-voices-only-for-creator-plus", "pipeline-error-eleven-labs-blocked-free-plan-and-requested-upgrade", "pipeline-error-eleven-labs-blocked-concurrent-requests-and-requested-upgrade", "pipeline-error-eleven-labs-blocked-using-instant-voice-clone-and-requested-upgrade", "pipeline-error-eleven-labs-system-busy-and-requested-upgrade", "pipeline-error-eleven-labs-voice-not-fine-tuned", "pipeline-error-eleven-labs-invalid-api-key", "pipeline-error-playht-request-timed-out", "pipeline-error-playht-invalid-voice", "pipeline-error-playht-unexpected-error", "pipeline-error-playht-out-of-credits", "pipeline-error-playht-rate-limit-exceeded", "pipeline-error-playht-502-gateway-error", "pipeline-error-playht-504-gateway-error", "silence-timed-out", "voicemail", "vonage-rejected"])
"""Vapi's documented endedReason values (its Call object's enum)."""

VAPI_VENDORS = {"elevenlabs": "eleven-labs", "11labs": "eleven-labs", "rime": "rime-ai", "together": "together-ai",
                "perplexity": "perplexity-ai", "azure-openai": "azure-openai", "custom-llm": "custom-llm"}
"""The engine's provider names Vapi spells otherwise in its `pipeline-error-<vendor>-<component>-failed` values."""


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
    CUSTOMER_BUSY: Ending("remote", "busy", "unknown", False),
    CUSTOMER_DID_NOT_ANSWER: Ending("remote", "noanswer", "unknown", False),
    NEVER_CONNECTED: Ending("local", "failed", "unknown", False),
    ASSISTANT_ERROR: Ending("local", "failed", "unknown", False),
    UNKNOWN_ERROR: Ending("local", "failed", "unknown", False),
}
PIPELINE_ERROR = Ending("local", "failed", "unknown", False)
UNKNOWN = Ending("local", "normal", "unknown", False)


def pipeline_error(provider: str, component: Component) -> str:
    """Vapi's reason for a provider that failed for good: `pipeline-error-openai-llm-failed`... when Vapi
    documents that vendor; another LLM (they are all OpenAI-compatible here) is Vapi's `custom-llm`; a voice or
    transcriber Vapi does not know (piper, espeak, whisper: the engine's own) is `assistant-error`."""
    name = "".join(c if c.isalnum() else "-" for c in provider.lower()).strip("-")
    reason = f"{PIPELINE_ERROR_PREFIX}{VAPI_VENDORS.get(name, name)}-{component}-failed"
    if reason in DOCUMENTED:
        return reason
    return f"{PIPELINE_ERROR_PREFIX}custom-llm-llm-failed" if component == "llm" else ASSISTANT_ERROR


def vapi_reason(reason: str) -> str:
    """`reason` as Vapi's endedReason: itself when documented, else the closest documented one (a stored
    reason from before this table, or a text AI call's own)."""
    if reason in DOCUMENTED:
        return reason
    if reason.startswith(PIPELINE_ERROR_PREFIX):
        for component in COMPONENTS:
            if reason.endswith(f"-{component}-failed"):
                provider = reason[len(PIPELINE_ERROR_PREFIX):-len(f"-{component}-failed")]
                return pipeline_error(provider, component)
        return ASSISTANT_ERROR
    if reason == "call.start.error-failed-to-connect":
        return NEVER_CONNECTED
    return UNKNOWN_ERROR


def ending(reason: str) -> Ending:
    if reason in ENDINGS:
        return ENDINGS[reason]
    if reason.startswith(PIPELINE_ERROR_PREFIX) or reason == "pipeline-no-available-model":
        return PIPELINE_ERROR
    return UNKNOWN


def hangup_reason(reason: str) -> str:
    """VoIPBIN call `hangup_reason` for an AI call's ended reason."""
    return ending(reason).hangup_reason


def voiceos_reason(reason: str) -> VoiceOSReason:
    return ending(reason).voiceos

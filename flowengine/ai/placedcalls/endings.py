"""How a placed call ends, in Vapi's endedReason words (flowengine.ai.endreasons maps them for VoiceOS)."""
from __future__ import annotations

from flowengine.ai.endreasons import CUSTOMER_ENDED, PIPELINE_ERROR_PREFIX

NOT_ANSWERED = {17: "customer-busy", 18: "customer-did-not-answer", 19: "customer-did-not-answer",
                21: "customer-did-not-answer"}
"""endedReason of a dialled number that never answered, by hangup cause (others: failed-to-connect)."""
DIALSTATUS = {"BUSY": "customer-busy", "NOANSWER": "customer-did-not-answer"}
"""endedReason by ARI's Dial `dialstatus` (the cause of a Local channel's end does not tell busy apart)."""
FAILED_TO_CONNECT = "call.start.error-failed-to-connect"
ENGINE_FAILED = f"{PIPELINE_ERROR_PREFIX}flowengine-failed"


def unanswered(dialstatuses: list[str], cause: int) -> str:
    """Why a dialled number never answered: its last Dial dialstatus, else its hangup cause."""
    return DIALSTATUS.get(dialstatuses[-1] if dialstatuses else "") or NOT_ANSWERED.get(cause, FAILED_TO_CONNECT)


def answered(aicall_reason: str, line_reason: str) -> str:
    """Why an answered call ended: its AI call's reason; an AI call that ended without a reason of its own
    ("ended") ended because the line did (`line_reason`, else the callee hung up)."""
    if aicall_reason not in ("", "ended"):
        return aicall_reason
    return line_reason or CUSTOMER_ENDED

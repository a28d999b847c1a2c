"""How a placed call ends, in Vapi's endedReason words (flowengine.ai.endreasons maps them for VoiceOS)."""
from __future__ import annotations

from flowengine.ai.endreasons import (
    ASSISTANT_ERROR,
    CUSTOMER_BUSY,
    CUSTOMER_DID_NOT_ANSWER,
    CUSTOMER_ENDED,
    NEVER_CONNECTED,
    vapi_reason,
)

NOT_ANSWERED = {17: CUSTOMER_BUSY, 18: CUSTOMER_DID_NOT_ANSWER, 19: CUSTOMER_DID_NOT_ANSWER,
                21: CUSTOMER_DID_NOT_ANSWER}
"""endedReason of a dialled number that never answered, by hangup cause (others: failed-to-connect)."""
DIALSTATUS = {"BUSY": CUSTOMER_BUSY, "NOANSWER": CUSTOMER_DID_NOT_ANSWER}
"""endedReason by ARI's Dial `dialstatus` (the cause of a Local channel's end does not tell busy apart)."""
FAILED_TO_CONNECT = NEVER_CONNECTED
"""The number could not be dialled, or its call never connected (congestion, unavailable...)."""
ENGINE_FAILED = ASSISTANT_ERROR
"""The engine could not run the call's assistant (its flow failed)."""


def unanswered(dialstatuses: list[str], cause: int) -> str:
    """Why a dialled number never answered: its last Dial dialstatus, else its hangup cause."""
    return DIALSTATUS.get(dialstatuses[-1] if dialstatuses else "") or NOT_ANSWERED.get(cause, FAILED_TO_CONNECT)


def answered(aicall_reason: str, line_reason: str) -> str:
    """Why an answered call ended: its AI call's reason; an AI call that ended without a reason of its own
    ("ended", or none) ended because the line did (`line_reason`, else the callee hung up)."""
    if aicall_reason not in ("", "ended"):
        return vapi_reason(aicall_reason)
    return line_reason or CUSTOMER_ENDED

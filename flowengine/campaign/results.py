"""Outcomes of campaigncalls: a hangup reason from how the dial or the flow ended, and success or fail."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from flowengine.store.campaigncalls import Campaigncall

Result = Literal["success", "fail"]

# Q.850 causes of a dial that never answered, as VoIPBIN's hangup reasons.
UNANSWERED = {17: "busy", 18: "noanswer", 19: "noanswer", 21: "failed", 1: "failed", 34: "failed", 38: "failed"}
SUCCESS_REASONS = frozenset({"normal"})


def unanswered_reason(cause: int, dialstatus: str, timed_out: bool) -> str:
    """Why a dial ended before answer, from Asterisk's DIALSTATUS and the Q.850 cause. Our own dial
    timeout counts as `noanswer`; a callee that hangs up before answering (NOANSWER at once, cause 16)
    is `failed`."""
    if timed_out:
        return "noanswer"
    if dialstatus == "BUSY":
        return "busy"
    if dialstatus in ("CONGESTION", "CHANUNAVAIL"):
        return "failed"
    return UNANSWERED.get(cause, "failed")


def answered_reason(engine_reason: str) -> str:
    """The reason an answered call ended: `amd` when the amd action hung up on a machine, else normal."""
    return "amd" if engine_reason == "amd" else "normal"


def result_of(reason: str) -> Result:
    return "success" if reason in SUCCESS_REASONS else "fail"


def tally(calls: Iterable[Campaigncall]) -> dict[str, int]:
    """Counts for reports: by result, by hangup reason (`reason:<name>`) and machines detected."""
    counts: Counter[str] = Counter()
    for call in calls:
        counts["calls"] += 1
        if call.status != "done":
            counts["in_progress"] += 1
            continue
        counts[call.result or "none"] += 1
        counts[f"reason:{call.hangup_reason or 'unknown'}"] += 1
        if call.amd_status == "MACHINE":
            counts["machine"] += 1
    return dict(counts)


# What became of one dial, in the words a report uses; ordered as reports list them.
DIAL_OUTCOMES = ("answered", "machine", "busy", "noanswer", "failed", "interrupted", "up", "ringing")
ANSWERED = frozenset({"answered", "machine", "up"})  # dials that became calls


def dial_outcome(call: Campaigncall) -> str:
    """One campaigncall (one dial) as a report names it: ringing or up while live, else how it ended
    (`answered` for a call that ended normally, `machine` for one the amd action hung up on)."""
    if call.status == "dialing":
        return "ringing"
    if call.status == "progressing":
        return "up"
    reason = call.hangup_reason
    if reason == "normal":
        return "answered"
    if reason == "amd":
        return "machine"
    return reason if reason in ("busy", "noanswer", "interrupted") else "failed"

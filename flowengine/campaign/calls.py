"""One campaigncall: dial the destination with the outplan's caller id and timeout, run the flow on answer
(type call), or run the flow without a call (type flow); report how it ended."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flowengine.ai.aicall import AICallService
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.events import ChannelDestroyed, Dial, StasisEnd
from flowengine.asterisk.routing import Route
from flowengine.campaign.results import answered_reason, unanswered_reason
from flowengine.flow import varnames as v
from flowengine.flow.actions.bridging import Leg, caller_id, endpoint_for
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.handlers import ActionFailed
from flowengine.flow.model import Flow
from flowengine.flow.options.common import Address as FlowAddress
from flowengine.flow.service import FlowService
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.outdials import OutdialTarget
from flowengine.store.outplans import Outplan
from flowengine.store.records import Address

log = logging.getLogger(__name__)

AMD_STATUS = "voipbin.amd.status"
AICALL_ID = "voipbin.aicall.id"  # set by ai_talk: the call's (last) AI call
# How close to the dial timeout an unanswered end counts as our timeout (ARI reports no cause for it).
TIMEOUT_SLACK_S = 0.5


@dataclass(frozen=True)
class Outcome:
    """How a campaigncall ended: `reason` is a VoIPBIN hangup reason; `answered` says the target was reached."""

    reason: str
    answered: bool
    amd_status: str = ""


Answered = Callable[[Campaigncall, str, str], Awaitable[None]]
"""Told when the target answers (or the flow starts): (campaigncall, reference id, activeflow id)."""


def flow_variables(target: OutdialTarget, call: Campaigncall) -> dict[str, Any]:
    """Variables every campaign flow sees about its target."""
    return {"campaign.id": call.campaign_id, "campaign.campaigncall_id": call.id,
            "campaign.target.id": target.id, "campaign.target.name": target.name,
            "campaign.target.data": target.data, "campaign.destination": call.destination.target}


def voicemail_left(ai: object, aicall_id: str) -> bool:
    """Whether the AI call `aicall_id` found a machine and said its voicemail message to it (then the
    target was reached: dialing it again would leave the message twice)."""
    if not isinstance(ai, AICallService) or not aicall_id:
        return False
    live = next((c for c in reversed(ai.recent) if c.record.id == aicall_id), None)
    rules = live.rules if live is not None else None
    if rules is None or rules.verdict is None or rules.verdict.answer != "machine":
        return False
    return bool(rules.voicemail_message) and rules.said_last == rules.voicemail_message


def caller_of(source: Address) -> str:
    return caller_id(FlowAddress(type=source.type or "tel", target=source.target, name=source.name,
                                 target_name=source.target_name), "no") if source.target else ""


async def run_call(flows: FlowService, flow: Flow, plan: Outplan, target: OutdialTarget, call: Campaigncall,
                   answered: Answered, pace: Callable[[], Awaitable[None]]) -> Outcome:
    """Type `call`: dial (after `pace` allows), and on answer run `flow` on the call until it ends."""
    services = flows.services
    ari = services.need_ari()
    destination = call.destination
    try:
        endpoint = endpoint_for(services, FlowAddress(type=destination.type or "tel", target=destination.target))
    except ActionFailed as exc:
        log.warning("campaigncall %s: %s", call.id, exc)
        return Outcome("failed", False)
    timeout_s = max(1, math.ceil(plan.dial_timeout / 1000))
    leg = Leg(ari, endpoint)
    statuses: list[str] = []
    dials = ari.subscribe(lambda e: statuses.append(e.dialstatus) if isinstance(e, Dial) and e.dialstatus else None,
                          channel_id=leg.id)
    try:
        await pace()
        started = time.monotonic()
        await leg.dial(timeout_s, caller_of(plan.source))
        if not await leg.wait_answer():
            timed_out = time.monotonic() - started >= timeout_s - TIMEOUT_SLACK_S
            return Outcome(unanswered_reason(leg.cause, statuses[-1] if statuses else "", timed_out), False)
        assert leg.handle is not None
        live = Call(leg.handle, Route(flow.id or "", "campaign"), destination.target, {})
        watcher = ari.subscribe(
            lambda e: live.ended.set() if isinstance(e, (StasisEnd, ChannelDestroyed)) else None, channel_id=leg.id)
        try:
            # the leg's channel id is the call's id (a UUID): the campaigncall's and activeflow's reference_id
            runner = flows.create(flow, reference_type=ReferenceType.CALL, reference_id=live.id, call=live,
                                  external=flow_variables(target, call))
            runner.variables.update({v.CALL_DIRECTION: "outgoing"})
            await answered(call, live.id, runner.activeflow.id)
            af = await flows.run(runner)
        finally:
            watcher.close()
        reason = answered_reason(services.hangup_reasons.pop(live.id, ""))
        # the amd action leaves its verdict in a variable; an AI's voicemail detection ends the call as `amd`
        amd_status = str(af.variables.get(AMD_STATUS, "")) or ("MACHINE" if reason == "amd" else "")
        if reason == "amd" and voicemail_left(services.ai, str(af.variables.get(AICALL_ID, ""))):
            reason = "normal"  # a message was left: success, like the amd action's `continue` (counted a machine)
        return Outcome(reason, True, amd_status)
    finally:
        dials.close()
        await leg.close()


async def run_flow(flows: FlowService, flow: Flow, target: OutdialTarget, call: Campaigncall,
                   answered: Answered) -> Outcome:
    """Type `flow`: the flow runs without a call (reference `campaign`, the campaigncall)."""
    runner = flows.create(flow, reference_type=ReferenceType.CAMPAIGN, reference_id=call.id,
                          external=flow_variables(target, call))
    await answered(call, call.id, runner.activeflow.id)
    af = await flows.run(runner)
    log.info("campaign flow %s ended: %s", af.id, af.ended_reason)
    return Outcome("normal", True)

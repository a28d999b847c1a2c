"""One campaigncall: dial the destination with the outplan's caller id and timeout, recorded as a call from the
dial on, run the flow on answer (type call), or run the flow without a call (type flow); report how it ended."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from flowengine.ai.aicall import AICallService
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.events import ChannelDestroyed, StasisEnd
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.routing import Route
from flowengine.campaign.results import answered_reason, unanswered_reason
from flowengine.flow import varnames as v
from flowengine.flow.actions.bridging import Leg, caller_id, dial_timed_out, endpoint_for
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.callregistry import CallRegistry
from flowengine.flow.context import Services
from flowengine.flow.handlers import ActionFailed
from flowengine.flow.model import Flow
from flowengine.flow.options.common import Address as FlowAddress
from flowengine.flow.service import FlowService
from flowengine.store.calls import HangupBy, HangupReason
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.outdials import OutdialTarget
from flowengine.store.outplans import Outplan
from flowengine.store.records import Address

log = logging.getLogger(__name__)

AMD_STATUS = "voipbin.amd.status"
AICALL_ID = "voipbin.aicall.id"  # set by ai_talk: the call's (last) AI call


@dataclass(frozen=True)
class Outcome:
    """How a campaigncall ended: `reason` is a VoIPBIN hangup reason; `answered` says the target was reached."""

    reason: str
    answered: bool
    amd_status: str = ""


Answered = Callable[[Campaigncall, str, str], Awaitable[None]]
"""Told when the target answers (or the flow starts): (campaigncall, reference id, activeflow id)."""
Dialed = Callable[[Campaigncall, str], Awaitable[None]]
"""Told once the dialed call is recorded: (campaigncall, call id)."""


@dataclass
class DialEnding:
    """How a campaign leg ended, as the call registry writes it on the call record (a `Verdict`). An
    unanswered end is read once, so the call record and the campaigncall give the same reason."""

    services: Services
    call_id: str
    timeout_s: int
    started: float = field(default_factory=time.monotonic)
    unanswered: tuple[HangupReason, HangupBy] | None = None

    def __call__(self, cause: int, answered: bool, dialstatus: str) -> tuple[HangupReason, HangupBy | None]:
        if answered:  # the amd action (or the AI's voicemail rules) say `amd`; who hung up: the registry's rule
            return cast(HangupReason, answered_reason(self.services.hangup_reasons.get(self.call_id, ""))), None
        if self.unanswered is None:
            # ARI reports no cause for our own dial timeout: an end close to it is ours
            timed_out = dial_timed_out(self.started, self.timeout_s)
            by: HangupBy = "local" if timed_out else "remote"
            self.unanswered = (cast(HangupReason, unanswered_reason(cause, dialstatus, timed_out)), by)
        reason, by = self.unanswered
        return reason, by


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


def registry_of(services: Services) -> CallRegistry:
    if services.calls is None:
        raise ActionFailed("campaign calls are recorded as calls: this engine has no call registry")
    return services.calls


async def run_call(flows: FlowService, flow: Flow, plan: Outplan, target: OutdialTarget, call: Campaigncall,
                   dialed: Dialed, answered: Answered, pace: Callable[[], Awaitable[None]]) -> Outcome:
    """Type `call`: dial (after `pace` allows) as a recorded call, and on answer run `flow` on it until it ends."""
    services = flows.services
    ari = services.need_ari()
    registry = registry_of(services)
    destination = call.destination
    try:
        endpoint = endpoint_for(services, FlowAddress(type=destination.type or "tel", target=destination.target))
    except ActionFailed as exc:
        log.warning("campaigncall %s: %s", call.id, exc)
        return Outcome("failed", False)
    timeout_s = max(1, math.ceil(plan.dial_timeout / 1000))
    # the leg's channel id is the call's id (a UUID): its record's, the campaigncall's and activeflow's reference_id
    leg = Leg(ari, endpoint)

    async def origination() -> ChannelHandle:
        await leg.dial(timeout_s, caller_of(plan.source))
        assert leg.handle is not None
        return leg.handle

    try:
        await pace()
        ending = DialEnding(services, leg.id, timeout_s)
        tracked = await registry.dial(call.customer_id, leg.id, origination, flow_id=flow.id or "",
                                     source=plan.source, destination=destination, verdict=ending)
        await dialed(call, tracked.id)
        if not await leg.wait_answer():
            return Outcome(ending(leg.cause, False, tracked.dialstatus)[0], False)
        assert leg.handle is not None
        live = Call(leg.handle, Route(flow.id or "", "campaign"), destination.target, {})
        watcher = ari.subscribe(
            lambda e: live.ended.set() if isinstance(e, (StasisEnd, ChannelDestroyed)) else None, channel_id=leg.id)
        try:
            if tracked.gone.is_set():  # hung up between answer and here: the watcher came too late to see it
                live.ended.set()
            runner = flows.create(flow, reference_type=ReferenceType.CALL, reference_id=live.id, call=live,
                                  external=flow_variables(target, call))
            runner.variables.update({v.CALL_ID: live.id, v.CALL_DIRECTION: "outgoing"})
            await registry.attach(tracked, runner)
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

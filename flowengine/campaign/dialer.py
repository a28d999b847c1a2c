"""The execute loop of one campaign: pick a ready target, respect pace and caps, dial, record the outcome."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from flowengine.campaign.calls import Outcome, run_call, run_flow
from flowengine.campaign.pacing import AsteriskCaps, Slots
from flowengine.campaign.resources import Resources
from flowengine.campaign.results import result_of
from flowengine.campaign.selection import Choice, next_slot, pick
from flowengine.campaign.windows import window_of
from flowengine.flow.model import Flow
from flowengine.flow.service import FlowService
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.campaigns import Campaign
from flowengine.store.dialclaims import Candidate, Claimed, Refused
from flowengine.store.outplans import Outplan
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

IDLE_POLL_S = 5.0  # end_handle `continue` with nothing to dial: look again this often (VoIPBIN: 5 s)
MAX_WAIT_S = 1.0  # longest sleep between looks at the campaign's status
CANDIDATES = 8  # ready targets offered to one claim: another node may be claiming the first ones


class Dialer:
    """Runs until the campaign is no longer `run` (then drains its calls) or, with end_handle `stop`,
    until no target has a try left and no call is up. `run()` returns True when it ran out of targets."""

    def __init__(self, resources: Resources, flows: FlowService, caps: AsteriskCaps, campaign: Campaign,
                 plan: Outplan, flow: Flow) -> None:
        self.resources = resources
        self.store = resources.store
        self.flows = flows
        self.caps = caps
        self.campaign = campaign
        self.plan = plan
        self.window = window_of(plan.call_window)
        self.flow = flow
        self.slots = Slots(campaign.max_concurrent_calls)
        self.wake = asyncio.Event()
        self.calls = TaskOwner(f"campaign {campaign.id}")  # one task per campaigncall

    @property
    def customer_id(self) -> str:
        return self.campaign.customer_id

    async def _sleep(self, seconds: float) -> None:
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), max(0.0, seconds))

    async def run(self) -> bool:
        try:
            finished = await self._loop()
        except BaseException:  # failed or cancelled (engine shutdown): its calls are cancelled
            await self.calls.aclose()
            raise
        await self.calls.aclose(timeout=None)  # the calls in progress end on their own
        return finished

    async def _loop(self) -> bool:
        while True:
            self.campaign = await self.store.campaigns.get(self.customer_id, self.campaign.id)
            if self.campaign.status != "run":
                return False
            if not (self.slots.free() and self.caps.slots.free()):
                await self._sleep(MAX_WAIT_S)
                continue
            now = datetime.now(UTC)
            targets = await self.store.outdialtargets.all_of(self.customer_id, self.campaign.outdial_id, status="idle")
            chosen = pick(targets, self.plan, self.window, now, limit=CANDIDATES)
            if chosen.choice is None:
                if chosen.exhausted and self.slots.used == 0:
                    if await self.store.dialclaims.live(self.campaign.id):
                        await self._sleep(MAX_WAIT_S)  # another node's calls may still retry their targets
                        continue
                    if self.campaign.end_handle == "stop":
                        return True
                    await self._sleep(IDLE_POLL_S)
                    continue
                until = (chosen.wait_until - now).total_seconds() if chosen.wait_until else MAX_WAIT_S
                await self._sleep(min(until, MAX_WAIT_S))
                continue
            if not (self.slots.free() and self.caps.slots.free()):
                continue  # another campaign sharing the global cap took the slot while we read the targets
            self.slots.take()  # taken with no await since the check above, so no campaign can overrun the cap
            self.caps.slots.take()
            claimed = await self._claim(chosen.choices)
            if not isinstance(claimed, Claimed):
                self.slots.give()
                self.caps.slots.give()
                if claimed.reason == "full":  # the cluster's calls of this campaign are at its cap
                    await self._sleep(MAX_WAIT_S)
                continue
            self.calls.start(self._call(claimed), name=f"campaigncall-{claimed.call.id}")

    async def _claim(self, choices: Sequence[Choice]) -> Claimed | Refused:
        """One of `choices` claimed across the cluster (see store/dialclaims.py): the target `progressing` with
        its try counted and the campaigncall, both stored before dialing, so a restart knows the dial may have
        happened. A type `call` one references its call (`_dialed`) only once the call is recorded."""
        campaign = self.campaign
        candidates = [Candidate(choice.target, choice.index, Campaigncall(
            customer_id=self.customer_id, campaign_id=campaign.id, outplan_id=self.plan.id,
            outdial_id=campaign.outdial_id, outdial_target_id=choice.target.id, flow_id=campaign.flow_id,
            reference_type="none" if campaign.type == "call" else "flow", status="dialing",
            source=self.plan.source, destination=destination, destination_index=choice.index,
            try_count=choice.target.tries(choice.index) + 1))
            for choice in choices if (destination := choice.target.destination(choice.index)) is not None]
        return await self.resources.claim_dial(self.customer_id, campaign.id, candidates)

    async def _pace(self, dial_at: datetime) -> None:
        """Right before an origination: the campaign's pace (the time its claim reserved, cluster-wide), then
        the pace of this node's Asterisk."""
        wait_s = (dial_at - self.store.clock()).total_seconds()
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        await self.caps.pacer.wait()

    async def _dialed(self, call: Campaigncall, call_id: str) -> None:
        """The dialed call is recorded (`/calls/{call_id}` resolves): the campaigncall may name it."""
        await self.resources.update_call(self.customer_id, call.id, reference_type="call", reference_id=call_id)

    async def _answered(self, call: Campaigncall, reference_id: str, activeflow_id: str) -> None:
        await self.resources.update_call(self.customer_id, call.id, status="progressing", reference_id=reference_id,
                                         activeflow_id=activeflow_id)

    async def _call(self, claimed: Claimed) -> None:
        call, target = claimed.call, claimed.target
        pace = functools.partial(self._pace, claimed.dial_at)
        try:
            try:
                if self.campaign.type == "call":
                    outcome = await run_call(self.flows, self.flow, self.plan, target, call, self._dialed,
                                             self._answered, pace)
                else:
                    await pace()
                    outcome = await run_flow(self.flows, self.flow, target, call, self._answered)
            except Exception:
                log.exception("campaigncall %s failed", call.id)
                outcome = Outcome("failed", False)
            await self._finish(call, outcome)
        finally:
            self.slots.give()
            self.caps.slots.give()
            self.wake.set()

    async def _finish(self, call: Campaigncall, outcome: Outcome) -> None:
        result = result_of(outcome.reason)
        await self.resources.update_call(self.customer_id, call.id, status="done", result=result,
                                         hangup_reason=outcome.reason, amd_status=outcome.amd_status)
        target = await self.store.outdialtargets.get(self.customer_id, call.outdial_target_id)
        done = result == "success" or next_slot(target, self.plan) is None
        await self.resources.update_target(self.customer_id, target.id, status="done" if done else "idle")
        log.info("campaigncall %s to %s: %s (%s)", call.id, call.destination.target, result, outcome.reason)

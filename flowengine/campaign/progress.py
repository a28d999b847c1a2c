"""Live progress of a campaign from the store, counted in targets, dials and calls, with an ETA."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flowengine.campaign.results import ANSWERED, DIAL_OUTCOMES, dial_outcome
from flowengine.campaign.selection import next_slot, tried
from flowengine.store import Store
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.campaigns import Campaign
from flowengine.store.outdials import OutdialTarget
from flowengine.store.outplans import Outplan


@dataclass(frozen=True)
class Snapshot:
    """Three units, never mixed: a target is a person to reach, a dial one attempt at it (a campaigncall),
    a call a dial that was answered."""

    targets: int
    reached: int  # targets with a successful call
    given_up: int  # targets out of tries, never reached
    retrying: int  # idle targets tried before, with tries left
    dialing: int  # targets with a dial in progress
    dials: Counter[str] = field(default_factory=Counter)  # dial outcome -> count (DIAL_OUTCOMES)
    status: str = ""

    @property
    def finished(self) -> int:
        """Targets done: reached, or out of tries."""
        return self.reached + self.given_up

    @property
    def waiting(self) -> int:
        """Targets not dialed yet."""
        return self.targets - self.finished - self.retrying - self.dialing

    @property
    def dials_made(self) -> int:
        return sum(self.dials.values())

    @property
    def calls(self) -> int:
        """Dials answered (up now or finished)."""
        return sum(self.dials[k] for k in ANSWERED)


def count(targets: list[OutdialTarget], calls: list[Campaigncall], plan: Outplan, status: str) -> Snapshot:
    reached_ids = {c.outdial_target_id for c in calls if c.result == "success"}
    reached = given_up = retrying = dialing = 0
    for t in targets:
        if t.id in reached_ids:
            reached += 1
        elif t.status == "progressing":
            dialing += 1
        elif t.status == "done" or next_slot(t, plan) is None:
            given_up += 1
        elif tried(t):
            retrying += 1
    return Snapshot(targets=len(targets), reached=reached, given_up=given_up, retrying=retrying, dialing=dialing,
                    dials=Counter(dial_outcome(c) for c in calls), status=status)


async def snapshot(store: Store, campaign: Campaign, plan: Outplan) -> Snapshot:
    cid = campaign.customer_id
    targets = await store.outdialtargets.all_of(cid, campaign.outdial_id)
    calls = await store.campaigncalls.of_campaign(cid, campaign.id)
    current = await store.campaigns.get(cid, campaign.id)
    return count(targets, calls, plan, current.status)


def eta_seconds(start: Snapshot, now: Snapshot, elapsed: float) -> float | None:
    """Time left at the rate targets finished since `start`; None until one has."""
    done = now.finished - start.finished
    if done <= 0 or elapsed <= 0:
        return None
    return (now.targets - now.finished) * elapsed / done


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def target_line(s: Snapshot) -> str:
    return (f"targets {s.finished}/{s.targets} done: {s.reached} reached, {s.given_up} not reached; "
            f"{s.dialing} dialing, {s.retrying} to retry, {s.waiting} waiting")


def dial_line(s: Snapshot) -> str:
    parts = [f"{s.dials[k]} {'no answer' if k == 'noanswer' else k}" for k in DIAL_OUTCOMES if s.dials[k]]
    return f"dials {s.dials_made}" + (f": {', '.join(parts)}" if parts else "")


def call_line(s: Snapshot) -> str:
    return f"calls {s.calls}: {s.dials['up']} up, {s.calls - s.dials['up']} ended"


def render(s: Snapshot, eta: float | None) -> str:
    """One plain line (logs, pipes): each count names its unit."""
    return f"{target_line(s)} | {dial_line(s)} | {call_line(s)} | ETA {clock(eta)} ({s.status})"

"""Live progress of a campaign from the store: counts by state, a text bar and an ETA."""
from __future__ import annotations

from dataclasses import dataclass

from flowengine.campaign.selection import next_slot, tried
from flowengine.store import Store
from flowengine.store.campaigns import Campaign
from flowengine.store.outplans import Outplan


@dataclass(frozen=True)
class Snapshot:
    targets: int
    finished: int  # targets done (reached, or out of tries)
    dialing: int
    answered: int  # campaigncalls up right now
    succeeded: int
    failed: int  # campaigncalls that failed (retried or not)
    retrying: int  # idle targets tried before, with tries left
    status: str


async def snapshot(store: Store, campaign: Campaign, plan: Outplan) -> Snapshot:
    cid = campaign.customer_id
    targets = await store.outdialtargets.all_of(cid, campaign.outdial_id)
    calls = await store.campaigncalls.of_campaign(cid, campaign.id)
    current = await store.campaigns.get(cid, campaign.id)
    return Snapshot(
        targets=len(targets),
        finished=sum(t.status == "done" or (t.status == "idle" and next_slot(t, plan) is None) for t in targets),
        dialing=sum(c.status == "dialing" for c in calls),
        answered=sum(c.status == "progressing" for c in calls),
        succeeded=sum(c.result == "success" for c in calls),
        failed=sum(c.result == "fail" for c in calls),
        retrying=sum(t.status == "idle" and tried(t) and next_slot(t, plan) is not None for t in targets),
        status=current.status,
    )


def eta_seconds(start: Snapshot, now: Snapshot, elapsed: float) -> float | None:
    """Time left at the rate targets finished since `start`; None until one has."""
    done = now.finished - start.finished
    if done <= 0 or elapsed <= 0:
        return None
    return (now.targets - now.finished) * elapsed / done


def render(s: Snapshot, eta: float | None, width: int = 24) -> str:
    filled = int(width * s.finished / s.targets) if s.targets else width
    clock = "--:--" if eta is None else f"{int(eta) // 60:02d}:{int(eta) % 60:02d}"
    return (f"[{'#' * filled}{'.' * (width - filled)}] {s.finished}/{s.targets} targets  dialing {s.dialing}  "
            f"answered {s.answered}  ok {s.succeeded}  failed {s.failed}  retrying {s.retrying}  ETA {clock}"
            f"  ({s.status})")

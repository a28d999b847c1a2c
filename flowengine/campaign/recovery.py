"""After a restart (or a lost node): settle campaigncalls the old process left open, so nothing is dialed twice or
lost; the open dials of live nodes are theirs."""
from __future__ import annotations

import logging

from flowengine.campaign.resources import Resources
from flowengine.store.campaigns import Campaign
from flowengine.store.nodes import EVERY_NODE, LOST_PREFIX, Owners

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"


async def recover(resources: Resources, campaign: Campaign, owners: Owners = EVERY_NODE) -> int:
    """Settles the open campaigncalls of `owners` (every node's by default; `interrupted`, or `node-lost:<id>`
    for a lost node's). An answered (`progressing`) campaigncall counts as reached: done, success, its target
    done. A `dialing` one never reached anybody: done, fail, its try given back and its target idle again.
    A `progressing` target without any open campaigncall (the process died in between) goes back to idle.
    Returns how many campaigncalls were settled."""
    store, cid = resources.store, campaign.customer_id
    settled = 0
    open_targets: set[str] = set()
    open_calls = [c for c in await store.campaigncalls.of_campaign(cid, campaign.id) if c.status != "done"]
    dialers = await store.campaigncalls.owners([c.id for c in open_calls])
    for call in open_calls:
        owner = dialers.get(call.id, "")
        if not owners.takes(owner):  # a live node's dial: its target stays progressing
            open_targets.add(call.outdial_target_id)
            continue
        settled += 1
        lost = owners.lost_node(owner)
        reason = INTERRUPTED if lost is None else f"{LOST_PREFIX}{lost}"
        target = await store.outdialtargets.get(cid, call.outdial_target_id)
        if call.status == "progressing":
            await resources.update_call(cid, call.id, status="done", result="success", hangup_reason=reason)
            await resources.update_target(cid, target.id, status="done")
        else:
            await resources.update_call(cid, call.id, status="done", result="fail", hangup_reason=reason)
            slot = f"try_count_{call.destination_index}"
            await resources.update_target(cid, target.id, status="idle",
                                          **{slot: max(0, target.tries(call.destination_index) - 1)})
        open_targets.add(target.id)
    for target in await store.outdialtargets.all_of(cid, campaign.outdial_id, status="progressing"):
        if target.id not in open_targets:
            await resources.update_target(cid, target.id, status="idle")
    if settled:
        log.info("campaign %s: settled %d campaigncall(s) left open by a restart or a lost node", campaign.id, settled)
    return settled

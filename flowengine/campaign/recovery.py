"""After a restart: settle campaigncalls the old process left open, so nothing is dialed twice or lost."""
from __future__ import annotations

import logging

from flowengine.campaign.resources import Resources
from flowengine.store.campaigns import Campaign

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"


async def recover(resources: Resources, campaign: Campaign) -> int:
    """An answered (`progressing`) campaigncall counts as reached: done, success, its target done.
    A `dialing` one never reached anybody: done, fail, its try given back and its target idle again.
    A `progressing` target without an open campaigncall (the process died in between) goes back to idle.
    Returns how many campaigncalls were settled."""
    store, cid = resources.store, campaign.customer_id
    settled = 0
    open_targets: set[str] = set()
    for call in await store.campaigncalls.of_campaign(cid, campaign.id):
        if call.status == "done":
            continue
        settled += 1
        target = await store.outdialtargets.get(cid, call.outdial_target_id)
        if call.status == "progressing":
            await resources.update_call(cid, call.id, status="done", result="success", hangup_reason=INTERRUPTED)
            await resources.update_target(cid, target.id, status="done")
        else:
            await resources.update_call(cid, call.id, status="done", result="fail", hangup_reason=INTERRUPTED)
            slot = f"try_count_{call.destination_index}"
            await resources.update_target(cid, target.id, status="idle",
                                          **{slot: max(0, target.tries(call.destination_index) - 1)})
        open_targets.add(target.id)
    for target in await store.outdialtargets.all_of(cid, campaign.outdial_id, status="progressing"):
        if target.id not in open_targets:
            await resources.update_target(cid, target.id, status="idle")
    if settled:
        log.info("campaign %s: settled %d campaigncall(s) left open by a restart", campaign.id, settled)
    return settled

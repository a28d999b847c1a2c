"""Call records a stopped engine left live: hung up when the engine starts again, as its registry would have, or
by a live node once their node is lost."""
from __future__ import annotations

import logging
from collections.abc import Container

from flowengine.events import EventBus
from flowengine.flow.callregistry import publish_call, stale_ending
from flowengine.store import Call, Store
from flowengine.store.errors import NotFoundError
from flowengine.store.nodes import EVERY_NODE, LOST_PREFIX, Owners

log = logging.getLogger(__name__)

LIVE_STATUSES = ("dialing", "ringing", "progressing", "terminating", "canceling")
"""Every call status but `hangup`."""


async def hang_up_stale_calls(store: Store, events: EventBus, known: Container[str] = (),
                              owners: Owners = EVERY_NODE) -> list[Call]:
    """Hangs up the stored calls of every customer still live in the store, owned by `owners` (every node's by
    default) but not among `known` (the ids of the running engine's live calls), with `call_hangup` as the
    registry publishes it. Returns those hung up.

    The reason is VoIPBIN's (`stale_ending`: mostly `failed`); a lost node's call also names it in its
    metadata (`{"hangup_detail": "node-lost:<id>"}`), VoIPBIN's hangup reasons having no word for it."""
    settled: list[Call] = []
    for stale, owner in await store.calls.settling(owners, filters={"status": LIVE_STATUSES}):
        if stale.id in known:
            continue
        reason, by = stale_ending(stale)
        lost = owners.lost_node(owner)
        metadata = None if lost is None else {**(stale.metadata or {}), "hangup_detail": f"{LOST_PREFIX}{lost}"}
        try:
            record, changed = await store.calls.hangup(stale.customer_id, stale.id, by=by, reason=reason,
                                                       metadata=metadata)
        except NotFoundError:  # deleted meanwhile
            continue
        if changed:
            publish_call(events, "call_hangup", record)
            settled.append(record)
    if settled:
        whose = "a previous engine" if owners.nodes is not None or not owners.spare else "lost node(s)"
        log.warning("%d call(s) left live by %s were hung up", len(settled), whose)
    return settled

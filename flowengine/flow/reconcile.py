"""Call records a stopped engine left live: hung up when the engine starts again, as its registry would have."""
from __future__ import annotations

import logging
from collections.abc import Container

from flowengine.events import EventBus
from flowengine.flow.callregistry import publish_call, stale_ending
from flowengine.store import Call, Store
from flowengine.store.errors import NotFoundError

log = logging.getLogger(__name__)

LIVE_STATUSES = ("dialing", "ringing", "progressing", "terminating", "canceling")
"""Every call status but `hangup`."""


async def hang_up_stale_calls(store: Store, events: EventBus, known: Container[str] = ()) -> list[Call]:
    """Hangs up the stored calls of every customer still live in the store but not among `known` (the ids of
    the running engine's live calls), with `call_hangup` as the registry publishes it. Returns those hung up."""
    settled: list[Call] = []
    for stale in await store.calls.of_every_customer(filters={"status": LIVE_STATUSES}):
        if stale.id in known:
            continue
        reason, by = stale_ending(stale)
        try:
            record, changed = await store.calls.hangup(stale.customer_id, stale.id, by=by, reason=reason)
        except NotFoundError:  # deleted meanwhile
            continue
        if changed:
            publish_call(events, "call_hangup", record)
            settled.append(record)
    if settled:
        log.warning("%d call(s) left live by a previous engine were hung up", len(settled))
    return settled

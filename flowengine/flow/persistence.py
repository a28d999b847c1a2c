"""Activeflow state in the store: every cursor move and status change written, stale runs recovered."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flowengine.events import EventBus
from flowengine.flow.activeflow import TM_UNSET, Activeflow
from flowengine.store import Activeflow as StoredActiveflow
from flowengine.store import Customer, Store
from flowengine.store.errors import NotFoundError
from flowengine.store.nodes import EVERY_NODE, LOST_PREFIX, Owners
from flowengine.store.views import activeflow_view
from flowengine.tenancy import ENGINE_CUSTOMER_ID, current_customer

log = logging.getLogger(__name__)

__all__ = ["ENGINE_CUSTOMER_ID", "ActiveflowRecorder"]

TIMES = ("tm_create", "tm_update", "tm_delete", "tm_end")


def _time(text: str) -> datetime | None:
    if not text or text == TM_UNSET:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


class ActiveflowRecorder:
    """An observer of runners: writes each activeflow to the store as it moves.

    Writes name the revision they last saw, so two engine nodes never interleave one activeflow.
    """

    def __init__(self, store: Store, customer_id: str = ENGINE_CUSTOMER_ID, events: EventBus | None = None) -> None:
        self.store = store
        self.customer_id = customer_id
        self.events = events
        self._revisions: dict[str, int] = {}
        self._owners: dict[str, str] = {}
        self.writes = 0

    async def ensure_customer(self) -> None:
        await self.store.customers.ensure(Customer(id=self.customer_id, name="engine",
                                                   detail="owner of file-configured flows"))

    def _fields(self, af: Activeflow) -> dict[str, Any]:
        data = af.model_dump(mode="json", exclude={*TIMES, "id", "customer_id"})
        data["status"] = str(af.status)
        data["reference_type"] = str(af.reference_type)
        data["on_complete_flow_id"] = af.on_complete_flow_id or "00000000-0000-0000-0000-000000000000"
        tm_end = _time(af.tm_end)
        if tm_end is not None:
            data["tm_end"] = tm_end
        return data

    def owner(self, af: Activeflow) -> str:
        """The activeflow's customer: its own field, else the customer the running task acts for
        (flowengine.tenancy; the API sets it), else this recorder's default."""
        if af.customer_id and af.customer_id != "00000000-0000-0000-0000-000000000000":
            return af.customer_id
        if self.customer_id != ENGINE_CUSTOMER_ID:
            return self.customer_id
        return current_customer()

    async def __call__(self, af: Activeflow, event: str) -> None:
        fields = self._fields(af)
        revision = self._revisions.get(af.id)
        customer_id = self._owners.setdefault(af.id, self.owner(af))
        if revision is None:
            record = await self.store.activeflows.create(
                StoredActiveflow(id=af.id, customer_id=customer_id, **fields))
        else:
            record = await self.store.activeflows.update(
                customer_id, af.id, expected_revision=revision, **fields)
        self.writes += 1
        if af.status == "ended":
            self._revisions.pop(af.id, None)
            self._owners.pop(af.id, None)
        else:
            self._revisions[af.id] = record.revision
        if self.events is not None:
            kind = "activeflow_created" if revision is None else "activeflow_updated"
            self.events.emit(kind, customer_id, activeflow_view(record))

    async def recover(self, owners: Owners = EVERY_NODE) -> list[StoredActiveflow]:
        """End what a previous run of the engine (or a lost node: `owners`) left running or paused, for every
        customer (the API's customers' activeflows too); returns those records. Their calls went with that
        process, so the reason says where each one was, and names the lost node (`node-lost:<id> while ...`)."""
        recovered: list[StoredActiveflow] = []
        stale_ones = await self.store.activeflows.settling(owners, filters={"status": ["running", "paused"]})
        for stale, owner in stale_ones:
            if stale.id in self._revisions:
                continue
            where = stale.current_action.get("id", "?")
            lost = owners.lost_node(owner)
            what = "engine restarted" if lost is None else f"{LOST_PREFIX}{lost}"
            try:
                ended, changed = await self.store.activeflows.end(
                    stale.customer_id, stale.id, reason=f"{what} while {stale.status} at action {where!r}")
            except NotFoundError:
                continue
            if changed:
                recovered.append(ended)
        if recovered:
            log.warning("%d activeflow(s) left running by a previous engine or lost node were ended", len(recovered))
        return recovered

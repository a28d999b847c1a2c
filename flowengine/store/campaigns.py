"""Campaigns: a flow run for every target of an outdial, dialed by an outplan, with pace and caps."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Column, Float, Table, select

from flowengine.store.records import NIL_ID, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import integer, json, listing_index, metadata, ref, resource_columns, text
from flowengine.store.timestamps import NOT_YET

CampaignType = Literal["call", "flow"]
CampaignStatus = Literal["stop", "stopping", "run"]
CampaignExecute = Literal["run", "stop"]
EndHandle = Literal["stop", "continue"]

campaigns = Table(
    "campaigns",
    metadata,
    *resource_columns(),
    text("type"),
    text("execute"),
    text("name"),
    text("detail"),
    text("status"),
    integer("service_level"),
    text("end_handle"),
    ref("flow_id"),
    json("actions"),
    ref("outplan_id"),
    ref("outdial_id"),
    ref("queue_id"),
    ref("next_campaign_id"),
    integer("max_concurrent_calls"),
    Column("calls_per_second", Float, nullable=False),
    listing_index("campaigns"),
)


class Campaign(CustomerRecord):
    """VoIPBIN's campaign plus two caps of flowengine's own: `max_concurrent_calls` (campaigncalls
    dialing or up at once) and `calls_per_second` (originations per second), which VoIPBIN only
    has through a queue's agents."""

    type: CampaignType = "call"
    execute: CampaignExecute = "stop"
    name: str = ""
    detail: str = ""
    status: CampaignStatus = "stop"
    service_level: int = Field(100, ge=0, le=1000)
    end_handle: EndHandle = "stop"
    flow_id: str = NIL_ID
    actions: list[dict[str, Any]] = Field(default_factory=list)
    outplan_id: str = NIL_ID
    outdial_id: str = NIL_ID
    queue_id: str = NIL_ID
    next_campaign_id: str = NIL_ID
    max_concurrent_calls: int = Field(1, ge=1, le=10000)
    calls_per_second: float = Field(1.0, gt=0, le=1000)


class CampaignRepository(ScopedRepository[Campaign]):
    resource = "campaign"
    table = campaigns
    record_type = Campaign
    filterable = ("status", "type", "outdial_id", "outplan_id", "name")

    async def running(self) -> list[Campaign]:
        """Campaigns of every customer whose status is `run` or `stopping` (to resume after a restart)."""
        t = self.table
        stmt = select(*self._access.columns).where(t.c.tm_delete == NOT_YET, t.c.status.in_(["run", "stopping"]))
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt.order_by(t.c.tm_create))).all()
        return [self._access.record(row) for row in rows]

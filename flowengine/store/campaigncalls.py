"""Campaigncalls: one dial (or flow run) of one campaign target, its status and result."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import Table, select

from flowengine.store.nodes import owner_column
from flowengine.store.owned import OwnedRepository
from flowengine.store.records import NIL_ID, Address, CustomerRecord
from flowengine.store.schema import integer, json, listing_index, metadata, ref, resource_columns, text
from flowengine.store.timestamps import NOT_YET

CampaigncallStatus = Literal["dialing", "progressing", "done"]
CampaigncallResult = Literal["", "success", "fail"]
ReferenceType = Literal["none", "call", "flow"]

campaigncalls = Table(
    "campaigncalls",
    metadata,
    *resource_columns(),
    ref("campaign_id", index=True),
    ref("outplan_id"),
    ref("outdial_id"),
    ref("outdial_target_id", index=True),
    ref("queue_id"),
    ref("activeflow_id"),
    ref("flow_id"),
    text("reference_type"),
    ref("reference_id"),
    text("status"),
    text("result"),
    json("source"),
    json("destination"),
    integer("destination_index"),
    integer("try_count"),
    text("hangup_reason"),
    text("amd_status"),
    owner_column(),  # migration 11
    listing_index("campaigncalls"),
)


class Campaigncall(CustomerRecord):
    """VoIPBIN's campaigncall, plus `hangup_reason` (VoIPBIN's call hangup reasons: normal, busy,
    noanswer, failed, amd, ...; `interrupted` when an engine restart cut the dial) and `amd_status`
    (HUMAN / MACHINE / NOTSURE when the flow ran `amd`)."""

    campaign_id: str
    outplan_id: str = NIL_ID
    outdial_id: str = NIL_ID
    outdial_target_id: str = NIL_ID
    queue_id: str = NIL_ID
    activeflow_id: str = NIL_ID
    flow_id: str = NIL_ID
    reference_type: ReferenceType = "none"
    reference_id: str = NIL_ID
    status: CampaigncallStatus = "dialing"
    result: CampaigncallResult = ""
    source: Address = Field(default_factory=Address)
    destination: Address = Field(default_factory=Address)
    destination_index: int = Field(0, ge=0, le=4)
    try_count: int = 0
    hangup_reason: str = ""
    amd_status: str = ""


class CampaigncallRepository(OwnedRepository[Campaigncall]):
    resource = "campaigncall"
    table = campaigncalls
    record_type = Campaigncall
    filterable = ("campaign_id", "status", "result", "outdial_target_id")

    async def of_campaign(self, customer_id: str, campaign_id: str) -> list[Campaigncall]:
        """Every campaigncall of a campaign, oldest first (reports, recovery)."""
        t = self.table
        stmt = select(*self._access.columns).where(
            t.c.customer_id == customer_id, t.c.campaign_id == campaign_id, t.c.tm_delete == NOT_YET
        ).order_by(t.c.tm_create, t.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [self._access.record(row) for row in rows]

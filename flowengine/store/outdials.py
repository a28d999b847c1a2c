"""Outdials (lists of whom to call) and their targets (up to five destinations, a try count each)."""
from __future__ import annotations

from typing import Literal

from sqlalchemy import Table, select

from flowengine.store.outplans import DESTINATION_SLOTS
from flowengine.store.records import NIL_ID, Address, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import integer, json, listing_index, metadata, ref, resource_columns, text
from flowengine.store.timestamps import NOT_YET

TargetStatus = Literal["idle", "progressing", "done"]

outdials = Table(
    "outdials",
    metadata,
    *resource_columns(),
    ref("campaign_id"),
    text("name"),
    text("detail"),
    text("data"),
    listing_index("outdials"),
)

outdialtargets = Table(
    "outdialtargets",
    metadata,
    *resource_columns(),
    ref("outdial_id", index=True),
    text("name"),
    text("detail"),
    text("data"),
    text("status"),
    *(json(f"destination_{i}", nullable=True) for i in range(DESTINATION_SLOTS)),
    *(integer(f"try_count_{i}") for i in range(DESTINATION_SLOTS)),
    text("timezone"),
    listing_index("outdialtargets"),
)


class Outdial(CustomerRecord):
    """VoIPBIN's outdial: a named list of targets, optionally tied to a campaign."""

    campaign_id: str = NIL_ID
    name: str = ""
    detail: str = ""
    data: str = ""


class OutdialTarget(CustomerRecord):
    """VoIPBIN's outdial target. `timezone` (flowengine's addition, an IANA name or "") is where the
    target lives: call windows are read in it."""

    outdial_id: str
    name: str = ""
    detail: str = ""
    data: str = ""
    status: TargetStatus = "idle"
    destination_0: Address | None = None
    destination_1: Address | None = None
    destination_2: Address | None = None
    destination_3: Address | None = None
    destination_4: Address | None = None
    try_count_0: int = 0
    try_count_1: int = 0
    try_count_2: int = 0
    try_count_3: int = 0
    try_count_4: int = 0
    timezone: str = ""

    def destination(self, index: int) -> Address | None:
        value: Address | None = getattr(self, f"destination_{index}")
        return value

    def tries(self, index: int) -> int:
        return int(getattr(self, f"try_count_{index}"))


class OutdialRepository(ScopedRepository[Outdial]):
    resource = "outdial"
    table = outdials
    record_type = Outdial
    filterable = ("campaign_id", "name")


class OutdialTargetRepository(ScopedRepository[OutdialTarget]):
    resource = "outdialtarget"
    table = outdialtargets
    record_type = OutdialTarget
    filterable = ("outdial_id", "status")

    async def all_of(self, customer_id: str, outdial_id: str, *, status: TargetStatus | None = None
                     ) -> list[OutdialTarget]:
        """Every live target of one outdial (optionally of one status), least recently touched first."""
        t = self.table
        stmt = select(*self._access.columns).where(
            t.c.customer_id == customer_id, t.c.outdial_id == outdial_id, t.c.tm_delete == NOT_YET)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        stmt = stmt.order_by(t.c.tm_update, t.c.tm_create, t.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [self._access.record(row) for row in rows]

"""AI summaries: VoIPBIN's Summary resource, one live summary per (customer, reference_id, language)."""
from __future__ import annotations

from typing import Literal

from sqlalchemy import Index, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowengine.store.errors import AlreadyExistsError
from flowengine.store.records import NIL_ID, CustomerRecord
from flowengine.store.repository import ScopedRepository, require_customer
from flowengine.store.schema import listing_index, metadata, ref, resource_columns, text

SummaryReferenceType = Literal["call", "conference", "transcribe", "recording"]
SummaryStatus = Literal["progressing", "done"]

summaries = Table(
    "summaries",
    metadata,
    *resource_columns(),
    ref("activeflow_id"),
    ref("on_end_flow_id"),
    text("reference_type"),
    ref("reference_id"),
    text("status"),
    text("language"),
    text("content"),
    text("error"),
    listing_index("summaries"),
    # VoIPBIN's idempotence, kept by the database so that two engine nodes cannot both create one:
    # live rows all have tm_delete = NOT_YET, deleted ones each their own tm_delete.
    Index("ix_summaries_reference", "customer_id", "reference_id", "language", "tm_delete", unique=True),
)


class Summary(CustomerRecord):
    """VoIPBIN's AI summary (AIManagerSummary). `reference_id` is the summarised call's id;
    `on_end_flow_id` and `activeflow_id` are flow ids as the engine knows them (file flows have
    names). flowengine adds `error`: why `content` is empty when a `done` summary could not be written."""

    activeflow_id: str = NIL_ID
    on_end_flow_id: str = NIL_ID
    reference_type: SummaryReferenceType = "call"
    reference_id: str
    status: SummaryStatus = "progressing"
    language: str = ""
    content: str = ""
    error: str = ""


class SummaryRepository(ScopedRepository[Summary]):
    resource = "summary"
    table = summaries
    record_type = Summary
    filterable = ("reference_type", "reference_id", "status", "language", "activeflow_id")

    async def _live_for(self, conn: AsyncConnection, customer_id: str, reference_id: str,
                        language: str) -> Summary | None:
        access = self._access
        row = (await conn.execute(
            select(*access.columns).where(*self._scope(customer_id), summaries.c.reference_id == reference_id,
                                          summaries.c.language == language, access.live())
        )).first()
        return access.record(row) if row is not None else None

    async def find(self, customer_id: str, reference_id: str, language: str) -> Summary | None:
        """The customer's live summary of `reference_id` in `language`, if there is one."""
        async with self._db.read() as conn:
            return await self._live_for(conn, customer_id, reference_id, language)

    async def create_once(self, record: Summary) -> tuple[Summary, bool]:
        """Stores `record` unless the customer has a live summary of the same reference and language
        already (VoIPBIN makes summaries idempotent): returns the stored one and whether it is new."""
        try:
            async with self._db.write() as conn:
                await require_customer(conn, record.customer_id)
                existing = await self._live_for(conn, record.customer_id, record.reference_id, record.language)
                if existing is not None:
                    return existing, False
                return await self._access.insert(conn, record), True
        except AlreadyExistsError:
            # another node created it between our look and our insert (the unique index said so)
            found = await self.find(record.customer_id, record.reference_id, record.language)
            if found is None:
                raise
            return found, False

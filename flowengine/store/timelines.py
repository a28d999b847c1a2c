"""Call timelines: what happened on one call, in order (flow actions, AI turns and their latencies, barge-ins,
tool calls, webhooks sent, the end), a bounded number of small entries per call."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, Table, Text, insert, select

from flowengine.store.calls import calls
from flowengine.store.database import Database
from flowengine.store.schema import ID, Json, metadata
from flowengine.store.timestamps import Clock, UtcDateTime

MAX_ENTRIES = 500
"""Per call: the recorder stops there (one `truncated` entry says so), the call's end is always kept."""

call_timelines = Table(
    "call_timelines",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("customer_id", ID, nullable=False),
    Column("call_id", ID, nullable=False),
    Column("tm", UtcDateTime, nullable=False),
    Column("type", Text, nullable=False),
    Column("data", Json, nullable=False),
    Index("ix_call_timelines_call_id", "call_id", "id"),
)


@dataclass(frozen=True)
class TimelineEntry:
    customer_id: str
    call_id: str
    tm: datetime
    type: str
    data: dict[str, Any] = field(default_factory=dict)


class TimelineRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add(self, entries: Sequence[TimelineEntry]) -> None:
        if not entries:
            return
        async with self._db.write() as conn:
            await conn.execute(insert(call_timelines), [
                {"customer_id": e.customer_id, "call_id": e.call_id, "tm": e.tm, "type": e.type, "data": e.data}
                for e in entries])

    async def of_call(self, call_id: str, customer_id: str | None = None) -> list[TimelineEntry]:
        """One call's entries in the order they happened (of one customer, or of any for the operator's CLI)."""
        t = call_timelines
        stmt = select(t).where(t.c.call_id == call_id).order_by(t.c.id).limit(MAX_ENTRIES + 50)
        if customer_id is not None:
            stmt = stmt.where(t.c.customer_id == customer_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [TimelineEntry(r.customer_id, r.call_id, r.tm, r.type, dict(r.data)) for r in rows]

    async def owner_of_call(self, call_id: str) -> str | None:
        """The customer a call belongs to (the operator's CLI looks calls up by id alone)."""
        async with self._db.read() as conn:
            found = await conn.scalar(select(calls.c.customer_id).where(calls.c.id == call_id))
        return str(found) if found is not None else None

"""The webhook outbox: every webhook event waiting for its receiver, claimed lane by lane, in order.

A row is one body for one URL. Rows of one `lane` (a customer's webhook, or one activeflow's own
webhook_uri) are delivered in id order: only the oldest pending row of a lane is ever claimable, so a
lane's next event waits for the one before while other lanes go on. A claim is a lease
(`claimed_until`) written in a short transaction; on PostgreSQL the candidate rows are locked with
`FOR UPDATE SKIP LOCKED`, so engine nodes sharing the database claim different rows and never the same
one, and a node that died mid-send leaves a lease that simply runs out. Delivered rows are deleted;
rows given up on stay, `failed`, for inspection. The body is stored, never a secret: it is signed at
send time with the customer's stored (encrypted) webhook secret."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from flowengine.store.database import Database
from flowengine.store.schema import ID, metadata
from flowengine.store.timestamps import Clock, UtcDateTime

OutboxStatus = Literal["pending", "failed"]
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
"""`claimed_until` of a row nobody holds."""

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("lane", Text, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("method", String(8), nullable=False),
    Column("body", Text, nullable=False),
    Column("signed", Boolean, nullable=False),
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("tm_create", UtcDateTime, nullable=False),
    Index("ix_webhook_outbox_lane", "lane", "status", "id"),
    Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
)


@dataclass(frozen=True)
class OutboxEntry:
    """What the dispatcher writes: one event's body for one URL. `signed`: sign with the customer's
    webhook secret at send time (the customer's own webhook); an activeflow's webhook_uri is not signed."""

    lane: str
    customer_id: str
    event_type: str
    url: str
    method: str
    body: str
    signed: bool = True


@dataclass(frozen=True)
class OutboxRow(OutboxEntry):
    id: int = 0
    status: OutboxStatus = "pending"
    attempts: int = 0
    next_attempt_at: datetime = RELEASED
    claimed_until: datetime = RELEASED
    last_error: str = ""
    tm_create: datetime = RELEASED


@dataclass(frozen=True)
class Backlog:
    """What /metrics shows: undelivered rows and the creation time of the oldest (None when there is none)."""

    count: int
    oldest: datetime | None


def _row(row: Row[Any]) -> OutboxRow:
    return OutboxRow(**dict(row._mapping))


class OutboxRepository:
    """Writes, claims and settles outbox rows. Every method is one short transaction."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @staticmethod
    def _heads(now: datetime) -> list[ColumnElement[bool]]:
        """A row no one holds that is the oldest pending row of its lane (due or not)."""
        t = webhook_outbox
        older = webhook_outbox.alias("older")
        ahead = exists().where(older.c.lane == t.c.lane, older.c.status == "pending", older.c.id < t.c.id)
        return [t.c.status == "pending", t.c.claimed_until <= now, ~ahead]

    async def add(self, entries: Sequence[OutboxEntry]) -> list[int]:
        """Stores `entries` in one transaction, in this order; returns their ids (increasing)."""
        if not entries:
            return []
        now = self._clock()
        ids: list[int] = []
        async with self._db.write() as conn:
            for entry in entries:  # one by one: the ids must follow the order given
                values = {**{f.name: getattr(entry, f.name) for f in fields(OutboxEntry)}, "status": "pending", "attempts": 0, "next_attempt_at": now,
                          "claimed_until": RELEASED, "last_error": "", "tm_create": now}
                found = await conn.scalar(insert(webhook_outbox).values(values).returning(webhook_outbox.c.id))
                assert found is not None
                ids.append(int(found))
        return ids

    async def claim(self, limit: int, lease_s: float) -> list[OutboxRow]:
        """Up to `limit` rows, each the due head of its lane, leased for `lease_s` seconds."""
        now = self._clock()
        t = webhook_outbox
        stmt = select(t).where(*self._heads(now), t.c.next_attempt_at <= now).order_by(t.c.id).limit(limit)
        if self._db.dialect == "postgresql":
            stmt = stmt.with_for_update(of=t, skip_locked=True)
        until = now + timedelta(seconds=lease_s)
        async with self._db.write() as conn:
            rows = [_row(r) for r in (await conn.execute(stmt)).all()]
            if rows:
                await conn.execute(update(t).where(t.c.id.in_([r.id for r in rows])).values(claimed_until=until))
        return rows

    async def next_due(self) -> datetime | None:
        """When a lane head not leased now becomes due (None: nothing waits), to sleep until then."""
        now = self._clock()
        t = webhook_outbox
        async with self._db.read() as conn:
            due: datetime | None = await conn.scalar(select(func.min(t.c.next_attempt_at)).where(*self._heads(now)))
        return due

    async def delivered(self, id: int) -> None:
        async with self._db.write() as conn:
            await conn.execute(delete(webhook_outbox).where(webhook_outbox.c.id == id))

    async def retry_at(self, id: int, when: datetime, error: str) -> None:
        """The attempt failed: try again at `when` (the lease is released)."""
        t = webhook_outbox
        async with self._db.write() as conn:
            await conn.execute(update(t).where(t.c.id == id).values(
                attempts=t.c.attempts + 1, next_attempt_at=when, claimed_until=RELEASED, last_error=error))

    async def give_up(self, id: int, error: str) -> None:
        """The last attempt failed: the row stays, `failed`, and no longer holds its lane."""
        t = webhook_outbox
        async with self._db.write() as conn:
            await conn.execute(update(t).where(t.c.id == id).values(
                attempts=t.c.attempts + 1, status="failed", claimed_until=RELEASED, last_error=error))

    async def release(self, ids: Sequence[int]) -> None:
        """Ends the leases of rows whose delivery was cut short (a closing engine): another takes them at once."""
        if ids:
            t = webhook_outbox
            async with self._db.write() as conn:
                await conn.execute(update(t).where(and_(t.c.id.in_(list(ids)), t.c.status == "pending"))
                                   .values(claimed_until=RELEASED))

    async def pending_of(self, ids: Sequence[int]) -> set[int]:
        """Which of `ids` are still pending."""
        if not ids:
            return set()
        t = webhook_outbox
        async with self._db.read() as conn:
            found = await conn.scalars(select(t.c.id).where(t.c.id.in_(list(ids)), t.c.status == "pending"))
            return {int(i) for i in found}

    async def backlog(self) -> Backlog:
        t = webhook_outbox
        async with self._db.read() as conn:
            row = (await conn.execute(select(func.count(), func.min(t.c.tm_create)).where(t.c.status == "pending"))
                   ).one()
        return Backlog(int(row[0]), row[1])

    async def rows(self, *, customer_id: str | None = None, status: OutboxStatus | None = None) -> list[OutboxRow]:
        """Rows in id order (inspection, tests)."""
        t = webhook_outbox
        stmt = select(t).order_by(t.c.id)
        if customer_id is not None:
            stmt = stmt.where(t.c.customer_id == customer_id)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        async with self._db.read() as conn:
            return [_row(r) for r in (await conn.execute(stmt)).all()]

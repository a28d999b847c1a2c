"""Claiming a campaign's next dial across engine nodes: its caps, its pace and one target, in one transaction.

Every node dialing a campaign claims through here. The claim locks the campaign's row (`FOR UPDATE` on
PostgreSQL; SQLite has one writer at a time), so claims of one campaign are serialized across the cluster:
under that lock it counts the campaign's live campaigncalls (`dialing`, `progressing`) against
`max_concurrent_calls`, takes the first candidate target still as the caller saw it (the target rows are
locked `FOR UPDATE SKIP LOCKED`, so a row another transaction holds is passed over, never waited for),
reserves the next origination time of the campaign's pace (`campaign_pace`), marks the target
`progressing` with its try counted and stores the campaigncall. A target is therefore claimed by one node
once, and the caps hold whichever node dials."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Column, ForeignKey, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flowengine.store.campaigncalls import Campaigncall, campaigncalls
from flowengine.store.campaigns import campaigns
from flowengine.store.database import Database
from flowengine.store.outdials import OutdialTarget, outdialtargets
from flowengine.store.schema import ID, metadata
from flowengine.store.table import TableAccess
from flowengine.store.timestamps import NOT_YET, Clock, UtcDateTime

LIVE_STATUSES = ("dialing", "progressing")

campaign_pace = Table(
    "campaign_pace",
    metadata,
    Column("campaign_id", ID, ForeignKey("campaigns.id"), primary_key=True),
    Column("next_dial_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class Candidate:
    """A target as the dialer read it (its revision) and the campaigncall to store if it is still so."""

    target: OutdialTarget
    index: int
    call: Campaigncall


@dataclass(frozen=True)
class Claimed:
    """The dial is ours: the target (now `progressing`), the stored campaigncall, and when the campaign's
    pace lets it be originated."""

    target: OutdialTarget
    call: Campaigncall
    dial_at: datetime


@dataclass(frozen=True)
class Refused:
    """`stopped`: the campaign is not `run`; `full`: its live calls are at its cap; `taken`: every candidate
    was claimed or changed meanwhile (read the targets again)."""

    reason: Literal["stopped", "full", "taken"]
    live: int


class DialClaims:
    """Campaign dials claimed; the campaigncalls stored belong to `node_id` (set by `Store.own`)."""

    node_id = ""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._targets = TableAccess(db, clock, outdialtargets, OutdialTarget, "outdialtarget")
        self._calls = TableAccess(db, clock, campaigncalls, Campaigncall, "campaigncall")

    async def claim(self, customer_id: str, campaign_id: str, candidates: Sequence[Candidate]) -> Claimed | Refused:
        """The first of `candidates` (in order) still idle and unchanged, within the campaign's caps."""
        c, t = campaigns, outdialtargets
        async with self._db.write() as conn:
            head = (await conn.execute(
                select(c.c.status, c.c.max_concurrent_calls, c.c.calls_per_second)
                .where(c.c.id == campaign_id, c.c.customer_id == customer_id, c.c.tm_delete == NOT_YET)
                .with_for_update())).first()
            live = await self._live(conn, campaign_id)
            if head is None or head.status != "run":
                return Refused("stopped", live)
            if live >= head.max_concurrent_calls:
                return Refused("full", live)
            if not candidates:
                return Refused("taken", live)
            seen = {cand.target.id: cand for cand in candidates}
            rows = (await conn.execute(
                select(*self._targets.columns)
                .where(t.c.id.in_(list(seen)), t.c.customer_id == customer_id, t.c.status == "idle",
                       t.c.tm_delete == NOT_YET)
                .with_for_update(skip_locked=True))).all()
            current = {row.id: row.revision for row in rows}
            chosen = next((cand for cand in candidates if current.get(cand.target.id) == cand.target.revision), None)
            if chosen is None:
                return Refused("taken", live)
            now = self._clock()
            dial_at = await self._reserve(conn, campaign_id, now, 1.0 / float(head.calls_per_second))
            tries = chosen.target.tries(chosen.index) + 1
            target = chosen.target.model_copy(update={
                "status": "progressing", f"try_count_{chosen.index}": tries,
                "revision": chosen.target.revision + 1, "tm_update": now})
            await conn.execute(update(t).where(t.c.id == target.id, t.c.revision == chosen.target.revision).values(
                status="progressing", revision=target.revision, tm_update=now, **{f"try_count_{chosen.index}": tries}))
            call = await self._calls.insert(conn, chosen.call.model_copy(update={"try_count": tries}),
                                            {"node_id": self.node_id})
        return Claimed(target, call, dial_at)

    @staticmethod
    async def _reserve(conn: AsyncConnection, campaign_id: str, now: datetime, interval_s: float) -> datetime:
        """The campaign's next origination time (not before now), and the one after it moved on by the pace."""
        p = campaign_pace
        found: datetime | None = await conn.scalar(select(p.c.next_dial_at).where(p.c.campaign_id == campaign_id))
        dial_at = now if found is None else max(now, found)
        following = dial_at + timedelta(seconds=interval_s)
        if found is None:
            await conn.execute(insert(p).values(campaign_id=campaign_id, next_dial_at=following))
        else:
            await conn.execute(update(p).where(p.c.campaign_id == campaign_id).values(next_dial_at=following))
        return dial_at

    @staticmethod
    async def _live(conn: AsyncConnection, campaign_id: str) -> int:
        k = campaigncalls
        count = await conn.scalar(select(func.count()).select_from(k).where(
            k.c.campaign_id == campaign_id, k.c.status.in_(LIVE_STATUSES), k.c.tm_delete == NOT_YET))
        return int(count or 0)

    async def live(self, campaign_id: str) -> int:
        """The campaign's campaigncalls dialing or up, on every node."""
        async with self._db.read() as conn:
            return await self._live(conn, campaign_id)

"""Engine nodes: who holds which ARI app, and the lease each renews while it runs.

A node claims its row at start, renews `tm_lease` every lease/3 and marks it `stopped` when it stops.
A node whose lease ran out while `live` is lost (killed, host gone, cut from the database): a live node
settles its records and marks it `lost`. Times come from each node's clock: nodes keep them in step
(NTP), which a lease of seconds tolerates."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Column, Index, String, Table, select, text, update
from sqlalchemy.engine import Row

from flowengine.store.database import Database
from flowengine.store.errors import StoreError
from flowengine.store.schema import metadata, timestamp
from flowengine.store.schema import text as text_column
from flowengine.store.timestamps import Clock

NodeStatus = Literal["live", "stopped", "lost"]
NODE_ID_LENGTH = 128
CLAIM_LOCK_KEY = 0x4E6F6465  # "Node": PostgreSQL advisory lock taken by claims, so two never interleave

nodes = Table(
    "nodes",
    metadata,
    Column("id", String(NODE_ID_LENGTH), primary_key=True),
    text_column("ari_app"),
    text_column("host"),
    Column("status", String(16), nullable=False),
    timestamp("tm_start"),
    timestamp("tm_lease"),
    Index("ix_nodes_ari_app", "ari_app"),
)


def owner_column() -> Column[Any]:
    """`node_id` of calls, activeflows, AI calls and campaigncalls: the node running the record ('' for rows
    older than nodes)."""
    return Column("node_id", String(NODE_ID_LENGTH), nullable=False, server_default="", index=True)


@dataclass(frozen=True)
class Node:
    id: str
    ari_app: str
    host: str
    status: NodeStatus
    tm_start: datetime
    tm_lease: datetime

    def live_at(self, now: datetime) -> bool:
        return self.status == "live" and self.tm_lease > now


LOST_PREFIX = "node-lost:"
"""How an end reason names the lost node that ran the record: `node-lost:<id>` (docs/decisions.md)."""


@dataclass(frozen=True)
class Owners:
    """Whose live records a settling pass ends: those owned by one of `nodes` (when given) and by none of
    `spare`. `mine` is the settling node: its own rows (and rows older than nodes, owner '') are a previous
    run's; any other owner is a lost node. `Owners()` takes every record (one node, as before nodes)."""

    nodes: tuple[str, ...] | None = None
    spare: tuple[str, ...] = ()
    mine: str = ""

    @classmethod
    def previous_run(cls, mine: str) -> Owners:
        """This node's own records (a previous run of it left them) and those that name no node."""
        return cls(nodes=(mine, ""), mine=mine)

    @classmethod
    def lost(cls, mine: str, live: Collection[str]) -> Owners:
        """Every record whose node is neither this one, nor live, nor unnamed."""
        return cls(spare=tuple(sorted({mine, "", *live})), mine=mine)

    def takes(self, owner: str) -> bool:
        return (self.nodes is None or owner in self.nodes) and owner not in self.spare

    def lost_node(self, owner: str) -> str | None:
        """The lost node a record's owner names; None for this node's own previous run or an unnamed owner."""
        return None if owner in ("", self.mine) else owner


EVERY_NODE = Owners()
"""Every record, whoever owns it: one node alone, as before nodes."""


class NodeConflictError(StoreError):
    """The ARI app (or the node id) is held by a node whose lease has not run out."""

    def __init__(self, holder: Node, app: str, now: datetime) -> None:
        self.holder = holder
        left = max(0.0, (holder.tm_lease - now).total_seconds())
        what = f"ARI app {app!r} is" if holder.ari_app == app else f"node id {holder.id!r} is"
        super().__init__(
            f"{what} held by live node {holder.id!r} (ARI app {holder.ari_app!r}, host {holder.host!r}, lease "
            f"renewed until {left:.1f}s from now): stop that node, or give this one another asterisk.app / "
            "node.id; a node that was killed frees it when its lease runs out")


class NodeRepository:
    """The `nodes` table."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self.clock = clock

    @staticmethod
    def _node(row: Row[Any]) -> Node:
        return Node(**dict(row._mapping))

    async def get(self, node_id: str) -> Node | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(nodes).where(nodes.c.id == node_id))).first()
        return None if row is None else self._node(row)

    async def all(self) -> list[Node]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(nodes).order_by(nodes.c.tm_start, nodes.c.id))).all()
        return [self._node(r) for r in rows]

    async def holder(self, ari_app: str) -> Node | None:
        """The live node holding `ari_app` now, if any."""
        now = self.clock()
        async with self._db.read() as conn:
            rows = (await conn.execute(select(nodes).where(
                nodes.c.ari_app == ari_app, nodes.c.status == "live", nodes.c.tm_lease > now))).all()
        return self._node(rows[0]) if rows else None

    async def claim(self, node_id: str, ari_app: str, host: str, lease_s: float) -> Node:
        """Makes `node_id` the live holder of `ari_app` for `lease_s`, unless a live node (another, or
        another run of this id) holds that app or that id: NodeConflictError, nothing written."""
        async with self._db.write() as conn:
            if self._db.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
            now = self.clock()
            rows = (await conn.execute(select(nodes).where(
                (nodes.c.ari_app == ari_app) | (nodes.c.id == node_id),
                nodes.c.status == "live", nodes.c.tm_lease > now))).all()
            if rows:
                raise NodeConflictError(self._node(rows[0]), ari_app, now)
            values = {"ari_app": ari_app, "host": host, "status": "live", "tm_start": now,
                      "tm_lease": now + timedelta(seconds=lease_s)}
            done = await conn.execute(update(nodes).where(nodes.c.id == node_id).values(values))
            if not done.rowcount:
                await conn.execute(nodes.insert().values(id=node_id, **values))
        return Node(id=node_id, ari_app=ari_app, host=host, status="live", tm_start=now,
                    tm_lease=now + timedelta(seconds=lease_s))

    async def renew(self, node_id: str, lease_s: float) -> NodeStatus | None:
        """Extends a live node's lease; returns the row's status (`lost` when another node settled this one
        meanwhile: nothing extended then), None if there is no row."""
        async with self._db.write() as conn:
            now = self.clock()
            done = await conn.execute(update(nodes).where(nodes.c.id == node_id, nodes.c.status == "live")
                                      .values(tm_lease=now + timedelta(seconds=lease_s)))
            if done.rowcount:
                return "live"
            status = await conn.scalar(select(nodes.c.status).where(nodes.c.id == node_id))
        return None if status is None else status

    async def release(self, node_id: str) -> None:
        """A node that stops: `stopped`, its lease ended now."""
        async with self._db.write() as conn:
            await conn.execute(update(nodes).where(nodes.c.id == node_id, nodes.c.status == "live")
                               .values(status="stopped", tm_lease=self.clock()))

    async def expired(self) -> list[Node]:
        """Nodes still `live` whose lease has run out: lost, their records to be settled."""
        now = self.clock()
        async with self._db.read() as conn:
            rows = (await conn.execute(select(nodes).where(nodes.c.status == "live", nodes.c.tm_lease <= now)
                                       .order_by(nodes.c.id))).all()
        return [self._node(r) for r in rows]

    async def live_ids(self) -> set[str]:
        now = self.clock()
        async with self._db.read() as conn:
            found = await conn.scalars(select(nodes.c.id).where(nodes.c.status == "live", nodes.c.tm_lease > now))
            return set(found.all())

    async def mark_lost(self, node_ids: Collection[str]) -> list[str]:
        """`live` -> `lost` for those whose lease has run out (a node that renewed meanwhile stays live).
        Returns the ids marked."""
        marked: list[str] = []
        async with self._db.write() as conn:
            now = self.clock()
            for node_id in node_ids:
                done = await conn.execute(update(nodes).where(
                    nodes.c.id == node_id, nodes.c.status == "live", nodes.c.tm_lease <= now).values(status="lost"))
                if done.rowcount:
                    marked.append(node_id)
        return marked

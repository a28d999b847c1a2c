"""Repositories of live records that name their owning node (`node_id`): stamped at insert, queried by owner."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select

from flowengine.store.nodes import Owners
from flowengine.store.records import CustomerRecord
from flowengine.store.repository import ScopedRepository

R = TypeVar("R", bound=CustomerRecord)


class OwnedRepository(ScopedRepository[R]):
    """A scoped repository whose new rows belong to `node_id`: the node this store serves ('' until the
    engine names one with `Store.own`). The owner is bookkeeping, not a field of the record (the API views
    stay VoIPBIN's)."""

    node_id = ""

    async def _insert(self, record: R, extra: dict[str, Any]) -> R:
        return await super()._insert(record, {"node_id": self.node_id, **extra})

    async def owner_of(self, customer_id: str, id: str) -> str:
        """The node running this record ('' when none is named)."""
        return str(await self._access.read_column(self._scope(customer_id), id, "node_id"))

    async def settling(self, owners: Owners, *, filters: Mapping[str, object]) -> list[tuple[R, str]]:
        """`owned` by the nodes a settling pass takes."""
        return await self.owned(filters=filters, nodes=owners.nodes, not_nodes=owners.spare or None)

    async def owned(self, *, filters: Mapping[str, object], nodes: Collection[str] | None = None,
                    not_nodes: Collection[str] | None = None) -> list[tuple[R, str]]:
        """Live records of every customer matching `filters`, oldest first, owned by one of `nodes` and by none
        of `not_nodes` (each when given), each with its owner: a node's own start-up work, and settling a lost
        node's records."""
        access, t = self._access, self.table
        where: list[ColumnElement[bool]] = [access.live(), *access.filter_conditions(filters)]
        if nodes is not None:
            where.append(t.c.node_id.in_(list(nodes)))
        if not_nodes is not None:
            where.append(t.c.node_id.not_in(list(not_nodes)))
        async with self._db.read() as conn:
            stmt = select(*access.columns, t.c.node_id).where(*where).order_by(t.c.tm_create, t.c.id)
            rows = (await conn.execute(stmt)).all()
        found: list[tuple[R, str]] = []
        for row in rows:
            values = dict(row._mapping)
            owner = str(values.pop("node_id"))
            found.append((self.record_type.model_validate(values), owner))
        return found

    async def owners(self, ids: Collection[str]) -> dict[str, str]:
        """id -> node_id of these records (any customer; for start-up work, never to answer a customer)."""
        if not ids:
            return {}
        t = self.table
        async with self._db.read() as conn:
            rows = (await conn.execute(select(t.c.id, t.c.node_id).where(t.c.id.in_(list(ids))))).all()
        return {str(r[0]): str(r[1]) for r in rows}

"""The customer-scoped repository every customer-facing resource builds on.

Each method takes the customer id first and adds it to every statement: another customer's
row behaves exactly like a missing one (NotFoundError), on get, list, update and delete alike."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowengine.store.customers import customers
from flowengine.store.database import Database
from flowengine.store.errors import NotFoundError
from flowengine.store.pagination import DEFAULT_PAGE_SIZE, Page
from flowengine.store.records import CustomerRecord
from flowengine.store.table import TableAccess, When
from flowengine.store.timestamps import NOT_YET, Clock

R = TypeVar("R", bound=CustomerRecord)


async def require_customer(conn: AsyncConnection, customer_id: str) -> None:
    """Raises NotFoundError unless the customer exists and is not deleted."""
    found = await conn.scalar(
        select(func.count())
        .select_from(customers)
        .where(customers.c.id == customer_id, customers.c.tm_delete == NOT_YET)
    )
    if not found:
        raise NotFoundError("customer", customer_id)


class ScopedRepository(Generic[R]):
    """create / get / list_page / update / delete of one resource, always within one customer."""

    resource: ClassVar[str]
    table: ClassVar[Table]
    filterable: ClassVar[Collection[str]] = ()
    record_type: type[R]

    def __init__(self, db: Database, clock: Clock) -> None:
        self._access = TableAccess(db, clock, self.table, self.record_type, self.resource, self.filterable)
        self._db = db

    def _scope(self, customer_id: str) -> list[ColumnElement[bool]]:
        return [self.table.c.customer_id == customer_id]

    async def create(self, record: R) -> R:
        """Stores a new resource for `record.customer_id` (which must be a live customer)."""
        return await self._insert(record, {})

    async def _insert(self, record: R, extra: dict[str, Any]) -> R:
        async with self._db.write() as conn:
            await require_customer(conn, record.customer_id)
            return await self._access.insert(conn, record, extra)

    async def get(self, customer_id: str, id: str, *, include_deleted: bool = False) -> R:
        return await self._access.get(self._scope(customer_id), id, include_deleted=include_deleted)

    async def list_page(
        self,
        customer_id: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        include_deleted: bool = False,
        filters: Mapping[str, object] | None = None,
    ) -> Page[R]:
        """Newest first; `filters` maps a filterable field to a value or a collection of values."""
        return await self._access.page(
            self._scope(customer_id),
            page_size=page_size,
            page_token=page_token,
            include_deleted=include_deleted,
            filters=filters,
        )

    async def of_every_customer(self, *, filters: Mapping[str, object]) -> list[R]:
        """Live records of every customer matching `filters`, oldest first: for the engine's own start-up
        work (settling what a previous run left open), never to answer a customer."""
        access, t = self._access, self.table
        stmt = select(*access.columns).where(access.live(), *access.filter_conditions(filters))
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt.order_by(t.c.tm_create, t.c.id))).all()
        return [access.record(row) for row in rows]

    async def update(
        self,
        customer_id: str,
        id: str,
        /,
        *,
        expected_revision: int | None = None,
        when: When | None = None,
        **changes: Any,
    ) -> R:
        """Sets the given fields. With `expected_revision`, only if the row is still at that
        revision (else StaleRevisionError); with `when={"status": ("running",)}`, only if each
        named field holds one of the values (else PreconditionFailedError)."""
        return await self._access.modify(
            self._scope(customer_id), id, changes, expected_revision=expected_revision, when=when
        )

    async def delete(self, customer_id: str, id: str, *, expected_revision: int | None = None) -> R:
        """Soft delete: sets tm_delete; the row disappears from get and list unless asked for."""
        return await self._access.modify(
            self._scope(customer_id), id, {}, expected_revision=expected_revision, delete=True
        )

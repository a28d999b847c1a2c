"""Typed access to one resource table: insert, get, page, conditional update, soft delete.

Repositories wrap this with their scope (a customer, or none for `customers`); every method
here takes the scope as ready-made WHERE conditions, so no query can forget it."""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Row, Table, exc, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flowengine.store.database import Database
from flowengine.store.errors import (
    AlreadyExistsError,
    InvalidChangeError,
    InvalidQueryError,
    NotFoundError,
    PreconditionFailedError,
    StaleRevisionError,
)
from flowengine.store.pagination import Page, make_page, paginate
from flowengine.store.records import SERVER_FIELDS, Record
from flowengine.store.timestamps import NOT_YET, Clock

R = TypeVar("R", bound=Record)

Conditions = Sequence[ColumnElement[bool]]
When = Mapping[str, Collection[object]]


class TableAccess(Generic[R]):
    """The queries of one table, in and out as records of one type."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        table: Table,
        record_type: type[R],
        resource: str,
        filterable: Collection[str] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.table = table
        self.record_type = record_type
        self.resource = resource
        self.fields = tuple(record_type.model_fields)
        missing = [name for name in self.fields if name not in table.c]
        if missing:
            raise TypeError(f"{record_type.__name__} fields without a column in {table.name}: {missing}")
        self.filterable = frozenset(filterable)
        self.columns = [table.c[name] for name in self.fields]

    def record(self, row: Row[Any]) -> R:
        return self.record_type.model_validate(dict(row._mapping))

    def live(self) -> ColumnElement[bool]:
        return self.table.c.tm_delete == NOT_YET

    async def insert(self, conn: AsyncConnection, record: R, extra: Mapping[str, Any] | None = None) -> R:
        """Inserts in the caller's write transaction; the store stamps revision and times."""
        stamped = record.model_copy(
            update={"revision": 1, "tm_create": self.clock(), "tm_update": NOT_YET, "tm_delete": NOT_YET}
        )
        taken = await conn.scalar(select(func.count()).select_from(self.table).where(self.table.c.id == stamped.id))
        if taken:
            raise AlreadyExistsError(self.resource, stamped.id)
        values = {**stamped.model_dump(), **(extra or {})}
        try:
            await conn.execute(insert(self.table).values(values))
        except exc.IntegrityError as error:
            raise AlreadyExistsError(self.resource, stamped.id) from error
        return stamped

    async def get(self, scope: Conditions, id: str, *, include_deleted: bool = False) -> R:
        async with self.db.read() as conn:
            row = await self._select(conn, scope, id, include_deleted=include_deleted)
        if row is None:
            raise NotFoundError(self.resource, id)
        return self.record(row)

    async def _select(
        self, conn: AsyncConnection, scope: Conditions, id: str, *, include_deleted: bool, lock: bool = False
    ) -> Row[Any] | None:
        stmt = select(*self.columns).where(self.table.c.id == id, *scope)
        if not include_deleted:
            stmt = stmt.where(self.live())
        if lock:
            stmt = stmt.with_for_update()
        return (await conn.execute(stmt)).first()

    def filter_conditions(self, filters: Mapping[str, object] | None) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        for name, value in (filters or {}).items():
            if name not in self.filterable:
                allowed = ", ".join(sorted(self.filterable)) or "none"
                raise InvalidQueryError(f"{self.resource} lists cannot be filtered by {name!r} (allowed: {allowed})")
            column = self.table.c[name]
            if isinstance(value, (list, tuple, set, frozenset)):
                conditions.append(column.in_(list(value)))
            else:
                conditions.append(column == value)
        return conditions

    async def page(
        self,
        scope: Conditions,
        *,
        page_size: int,
        page_token: str | None,
        include_deleted: bool = False,
        filters: Mapping[str, object] | None = None,
    ) -> Page[R]:
        stmt = select(*self.columns).where(*scope, *self.filter_conditions(filters))
        if not include_deleted:
            stmt = stmt.where(self.live())
        stmt = paginate(stmt, self.table, page_size, page_token)
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return make_page([self.record(row) for row in rows], page_size)

    def check_changes(self, changes: Mapping[str, Any]) -> None:
        for name in changes:
            if name in SERVER_FIELDS:
                raise InvalidChangeError(f"{self.resource}.{name} cannot be changed")
            if name not in self.fields:
                raise InvalidChangeError(f"{self.resource} has no field {name!r}")

    async def modify(
        self,
        scope: Conditions,
        id: str,
        changes: Mapping[str, Any],
        *,
        expected_revision: int | None = None,
        when: When | None = None,
        extra: Mapping[str, Any] | None = None,
        delete: bool = False,
    ) -> R:
        """Read-check-write of one live row in one transaction, the row locked (FOR UPDATE on
        PostgreSQL, BEGIN IMMEDIATE on SQLite): a stale `expected_revision` or a failed `when`
        raises, nothing is written. Bumps revision and tm_update; `delete` sets tm_delete."""
        self.check_changes(changes)
        async with self.db.write() as conn:
            row = await self._select(conn, scope, id, include_deleted=False, lock=True)
            if row is None:
                raise NotFoundError(self.resource, id)
            current = self.record(row)
            if expected_revision is not None and current.revision != expected_revision:
                raise StaleRevisionError(self.resource, id, expected_revision, current.revision)
            for name, allowed in (when or {}).items():
                actual = getattr(current, name)
                if actual not in allowed:
                    raise PreconditionFailedError(self.resource, id, name, actual, allowed)
            now = self.clock()
            bookkeeping: dict[str, Any] = {"revision": current.revision + 1, "tm_update": now}
            if delete:
                bookkeeping["tm_delete"] = now
            try:
                merged = self.record_type.model_validate({**current.model_dump(), **changes, **bookkeeping})
            except ValidationError as error:
                raise InvalidChangeError(f"{self.resource} {id}: {error}") from None
            dumped = merged.model_dump()
            values = {name: dumped[name] for name in [*changes, *bookkeeping]}
            await conn.execute(
                update(self.table)
                .where(self.table.c.id == id, self.table.c.revision == current.revision)
                .values({**values, **(extra or {})})
            )
        return merged

    async def read_column(self, scope: Conditions, id: str, column: str) -> Any:
        """One non-record column of a live row (encrypted secrets)."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(self.table.c[column]).where(self.table.c.id == id, self.live(), *scope)
                )
            ).first()
        if row is None:
            raise NotFoundError(self.resource, id)
        return row[0]

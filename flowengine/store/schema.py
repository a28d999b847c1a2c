"""The runtime schema: shared MetaData, the common resource columns and column types.

Each resource module declares its own table on `metadata` with `resource_columns()`; the
migrations in `flowengine/store/migrations/` create the same schema from frozen copies, and
`tests/store/test_migrate.py` checks the two agree."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Text

from flowengine.store.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = String(36)
"""Resource ids: canonical UUID strings."""
Json = JSON(none_as_null=True)
"""Plain JSON (not JSONB): documents keep their key order; nothing queries inside them."""


def resource_columns(*, scoped: bool = True) -> list[Column[Any]]:
    """id, customer_id (unless the table is `customers` itself), revision, tm_create/update/delete."""
    columns: list[Column[Any]] = [Column("id", ID, primary_key=True)]
    if scoped:
        columns.append(Column("customer_id", ID, ForeignKey("customers.id"), nullable=False))
    columns += [
        Column("revision", Integer, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Column("tm_update", UtcDateTime, nullable=False),
        Column("tm_delete", UtcDateTime, nullable=False),
    ]
    return columns


def listing_index(table: str) -> Index:
    """Serves every customer list: `customer_id = ? AND tm_delete = ? ORDER BY tm_create, id`."""
    return Index(f"ix_{table}_listing", "customer_id", "tm_delete", "tm_create", "id")


def text(name: str) -> Column[Any]:
    return Column(name, Text, nullable=False)


def ref(name: str, *, index: bool = False) -> Column[Any]:
    """A reference to another resource (no foreign key: references may be temporary or nil)."""
    return Column(name, Text, nullable=False, index=index)


def flag(name: str) -> Column[Any]:
    return Column(name, Boolean, nullable=False)


def json(name: str, *, nullable: bool = False) -> Column[Any]:
    return Column(name, Json, nullable=nullable)


def timestamp(name: str) -> Column[Any]:
    return Column(name, UtcDateTime, nullable=False)


def integer(name: str) -> Column[Any]:
    return Column(name, Integer, nullable=False)

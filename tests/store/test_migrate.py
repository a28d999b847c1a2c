"""Migrations: an empty SQLite and an empty PostgreSQL reach head, re-runs do nothing, nodes
starting together do not collide, a failed migration changes nothing, and the migrated schema
is exactly the one the repositories query."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, inspect, select
from sqlalchemy.engine import Connection

from flowengine.store import MigrationError, SchemaTooNewError, Store
from flowengine.store.migrate import VERSION_TABLE, schema_versions
from flowengine.store.migrations import Migration, all_migrations
from flowengine.store.schema import metadata
from flowengine.store.timestamps import NOT_YET
from tests.store.conftest import SECRET_KEY


async def test_empty_database_migrates_to_head_once(empty_url: str) -> None:
    head = Store.head_version()
    store = await Store.open(empty_url, migrate=False)
    try:
        assert await store.schema_version() == 0
        assert await store.migrate() == [m.version for m in all_migrations()]  # numbers are reserved per branch: gaps until merged
        assert await store.schema_version() == head
        assert await store.migrate() == []  # a no-op the second time
        async with store.db.read() as conn:
            rows = (await conn.execute(select(schema_versions))).all()
        assert [(r.version, r.name) for r in rows] == [(m.version, m.name) for m in all_migrations()]
    finally:
        await store.aclose()
    again = await Store.open(empty_url, secret_keys=[SECRET_KEY])  # opening migrates: nothing left to do
    try:
        assert await again.migrate() == []
        assert await again.schema_version() == head
    finally:
        await again.aclose()


async def test_nodes_starting_together_migrate_once(empty_url: str) -> None:
    stores = await asyncio.gather(*(Store.open(empty_url, secret_keys=[SECRET_KEY]) for _ in range(4)))
    try:
        async with stores[0].db.read() as conn:
            versions = (await conn.scalars(select(schema_versions.c.version))).all()
        assert sorted(versions) == [m.version for m in all_migrations()]
    finally:
        for store in stores:
            await store.aclose()


def _reflect(sync: Connection) -> dict[str, dict[str, object]]:
    inspector = inspect(sync)
    found: dict[str, dict[str, object]] = {}
    for table in inspector.get_table_names():
        columns = {c["name"]: (c["type"].python_type, c["nullable"]) for c in inspector.get_columns(table)}
        indexes = {i["name"]: tuple(i["column_names"]) for i in inspector.get_indexes(table)}
        foreign = {tuple(f["constrained_columns"]): f["referred_table"] for f in inspector.get_foreign_keys(table)}
        primary = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        found[table] = {"columns": columns, "indexes": indexes, "foreign": foreign, "primary": primary}
    return found


def _declared() -> dict[str, dict[str, object]]:
    declared: dict[str, dict[str, object]] = {}
    for table in metadata.sorted_tables:
        declared[table.name] = {
            "columns": {c.name: (c.type.python_type, c.nullable) for c in table.columns},
            "indexes": {i.name: tuple(c.name for c in i.columns) for i in table.indexes},
            "foreign": {tuple(fk.parent.name for fk in [f]): f.column.table.name for f in table.foreign_keys},
            "primary": tuple(c.name for c in table.primary_key.columns),
        }
    return declared


async def test_migrated_schema_matches_the_tables_the_code_queries(empty_url: str) -> None:
    store = await Store.open(empty_url)
    try:
        async with store.db.read() as conn:
            reflected = await conn.run_sync(_reflect)
    finally:
        await store.aclose()
    reflected.pop(VERSION_TABLE)
    assert reflected == _declared()


async def test_a_failing_migration_changes_nothing(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await Store.open(empty_url)  # at head
    await store.aclose()

    def broken(sync: Connection) -> None:
        Table("half_done", MetaData(), Column("id", Integer, primary_key=True)).create(sync)
        raise RuntimeError("disk on fire")

    head = all_migrations()
    monkeypatch.setattr(
        "flowengine.store.migrate.all_migrations",
        lambda: (*head, Migration(head[-1].version + 1, "broken", broken)),
    )
    with pytest.raises(MigrationError, match="nothing was changed: disk on fire"):
        await Store.open(empty_url)

    store = await Store.open(empty_url, migrate=False)
    try:
        assert await store.schema_version() == head[-1].version
        async with store.db.read() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "half_done" not in tables  # the DDL was rolled back with the version row
    finally:
        await store.aclose()


async def test_a_newer_schema_is_refused(empty_url: str) -> None:
    store = await Store.open(empty_url)
    async with store.db.write() as conn:
        await conn.execute(insert(schema_versions).values(version=999, name="from the future", tm_applied=NOT_YET))
    await store.aclose()
    with pytest.raises(SchemaTooNewError, match="version 999, newer than this flowengine knows"):
        await Store.open(empty_url)

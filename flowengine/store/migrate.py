"""Applies schema migrations at start: flowengine's own small runner (no Alembic).

Why not Alembic: the schema is small, the runner must work from inside the running event loop
on both SQLite and PostgreSQL, and the top level of the repository is fixed (no alembic.ini,
no env.py). Versions are integers recorded in `flowengine_schema_version`, one row per applied
migration. All pending migrations run in one transaction (both databases have transactional
DDL; SQLite's is enabled by `database.py`), so a failure leaves the schema as it was. On
PostgreSQL an advisory lock makes nodes that start together take turns: the first migrates,
the others then find nothing to do. A database newer than this code is refused."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from flowengine.store.database import Database
from flowengine.store.errors import MigrationError, SchemaTooNewError, StoreError
from flowengine.store.migrations import Migration, all_migrations
from flowengine.store.timestamps import Clock, UtcDateTime

log = logging.getLogger(__name__)

VERSION_TABLE = "flowengine_schema_version"
ADVISORY_LOCK_KEY = 0x466C6F77  # "Flow": any constant shared by every node

_version_metadata = MetaData()
schema_versions = Table(
    VERSION_TABLE,
    _version_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("tm_applied", UtcDateTime, nullable=False),
)


def head_version() -> int:
    return all_migrations()[-1].version


async def _applied(conn: AsyncConnection) -> list[int]:
    await conn.run_sync(lambda sync: _version_metadata.create_all(sync, checkfirst=True))
    return list((await conn.scalars(select(schema_versions.c.version).order_by(schema_versions.c.version))).all())


async def current_version(db: Database) -> int:
    """The highest applied version, 0 for an empty database."""
    async with db.read() as conn:
        exists = await conn.run_sync(lambda sync: sync.dialect.has_table(sync, VERSION_TABLE))
        if not exists:
            return 0
        found = await conn.scalar(select(schema_versions.c.version).order_by(schema_versions.c.version.desc()))
    return int(found or 0)


async def migrate(db: Database, clock: Clock) -> list[int]:
    """Brings the schema to head; returns the versions applied now (empty when up to date)."""
    migrations = all_migrations()
    head = migrations[-1].version
    try:
        async with db.write() as conn:
            if db.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            applied = await _applied(conn)
            if applied and applied[-1] > head:
                raise SchemaTooNewError(applied[-1], head)
            done = set(applied)
            pending = [m for m in migrations if m.version not in done]
            for migration in pending:
                await _apply(conn, migration, clock())
    except StoreError:
        raise
    except Exception as error:
        raise MigrationError(f"migrating {db.safe_url} failed, nothing was changed: {error}") from error
    for migration in pending:
        log.info("store schema migrated to version %d (%s)", migration.version, migration.name)
    return [m.version for m in pending]


async def _apply(conn: AsyncConnection, migration: Migration, now: datetime) -> None:
    def run(sync: Connection) -> None:
        migration.upgrade(sync)

    await conn.run_sync(run)
    await conn.execute(insert(schema_versions).values(version=migration.version, name=migration.name, tm_applied=now))

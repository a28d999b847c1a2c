"""The database connection: URL checks, the async engine, SQLite pragmas and transactions.

SQLite (aiosqlite: each connection runs in its own thread, so nothing blocks the event loop)
is opened in WAL mode with foreign keys on and a busy timeout. Python's sqlite3 module does not
begin transactions before SELECT or DDL, so the store turns that off and emits BEGIN itself:
reads run in a deferred transaction (a consistent snapshot), writes in `BEGIN IMMEDIATE` behind
an in-process lock, so writers queue instead of failing with "database is locked".
PostgreSQL (asyncpg) is what several engine nodes share."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from flowengine.store.errors import InvalidStoreUrlError, StoreUnavailableError

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite+aiosqlite:///flowengine.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
WAL_SWITCH_ATTEMPTS = 250

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

Dialect = Literal["sqlite", "postgresql"]


def normalize_url(url: str) -> URL:
    """`sqlite:///x.db` and `postgresql://...` get their async drivers; other schemes are refused."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise InvalidStoreUrlError(f"store.url is not a database URL: {url!r}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise InvalidStoreUrlError(
            f"store.url: unsupported database {parsed.drivername!r}; use sqlite+aiosqlite:///FILE "
            "or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB"
        )
    return parsed.set(drivername=driver)


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


class Database:
    """One async engine and the transactions every repository runs in."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.dialect: Dialect = "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        self.memory = _is_memory(self.url)
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "postgresql":
            kwargs["pool_pre_ping"] = True
        elif not self.memory:
            assert self.url.database is not None
            folder = Path(self.url.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreUnavailableError(f"cannot create the folder of {self.safe_url}: {error}") from error
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # SQLite has one writer at a time; an in-memory database is one shared connection.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._read_lock = self._write_lock if self.memory else None
        if self.dialect == "sqlite":
            self._install_sqlite_hooks()

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    def _install_sqlite_hooks(self) -> None:
        memory = self.memory

        @event.listens_for(self.engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            dbapi_connection.isolation_level = None  # the "begin" hook below emits BEGIN
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA foreign_keys=ON")
                if not memory:
                    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, set by prepare()
            finally:
                cursor.close()

        @event.listens_for(self.engine.sync_engine, "begin")
        def _begin(connection: Connection) -> None:
            immediate = connection.get_execution_options().get("flowengine_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    async def prepare(self) -> None:
        """Puts a SQLite file in WAL mode (a property of the file, kept across opens). The switch
        needs the file to itself and SQLite does not wait for that, so it is retried here."""
        if self.dialect != "sqlite" or self.memory:
            return
        for attempt in range(WAL_SWITCH_ATTEMPTS):
            try:
                async with self._connect() as conn:
                    raw = await conn.get_raw_connection()
                    # The driver's own connection: SQLAlchemy would open a transaction first.
                    driver = raw.driver_connection
                    assert driver is not None
                    cursor = await driver.execute("PRAGMA journal_mode=WAL")
                    mode = str((await cursor.fetchone())[0]).lower()
                    await cursor.close()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                    raise StoreUnavailableError(f"cannot put {self.safe_url} in WAL mode: {error}") from error
                await asyncio.sleep(0.02)
                continue
            if mode != "wal":
                raise StoreUnavailableError(f"{self.safe_url} cannot use WAL mode (journal mode {mode!r})")
            return

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (rolled back at the end)."""
        async with _maybe(self._read_lock), self._connect() as conn, conn.begin() as transaction:
            yield conn
            await transaction.rollback()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with _maybe(self._write_lock), self._connect() as conn:
            await conn.execution_options(flowengine_write=True)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        try:
            conn = await self.engine.connect()
        except (OSError, exc.OperationalError, exc.InterfaceError) as error:
            raise StoreUnavailableError(f"cannot open the database {self.safe_url}: {error}") from error
        try:
            yield conn
        finally:
            await conn.close()

    async def ping(self) -> None:
        """Raises StoreUnavailableError unless the database answers a query."""
        try:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
        except (OSError, exc.OperationalError, exc.InterfaceError) as error:
            raise StoreUnavailableError(f"the database {self.safe_url} does not answer: {error}") from error

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def _maybe(lock: asyncio.Lock | None) -> AsyncIterator[None]:
    if lock is None:
        yield
    else:
        async with lock:
            yield

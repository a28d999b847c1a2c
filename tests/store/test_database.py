"""The connection layer: URLs, SQLite pragmas (WAL, foreign keys, busy timeout), concurrent
writers, unreachable servers."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from flowengine.store import Flow, InvalidStoreUrlError, Store, StoreUnavailableError
from flowengine.store.database import SQLITE_BUSY_TIMEOUT_MS, Database, normalize_url
from tests.store.conftest import new_customer
from tests.store.pgserver import _free_port


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgres://u:p@h/db", "postgresql+asyncpg"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@h:5433/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_their_async_driver(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "postgresql+psycopg2://h/db", "not a url"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(InvalidStoreUrlError, match=r"store\.url"):
        normalize_url(url)


async def test_sqlite_file_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'deep' / 'dir' / 'f.db'}")  # folders are made
    try:
        await db.prepare()
        async with db.read() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await db.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": SQLITE_BUSY_TIMEOUT_MS}


async def test_concurrent_writers_queue_instead_of_failing(shared_url: str) -> None:
    stores = [await Store.open(shared_url) for _ in range(3)]  # three "nodes" on one database
    try:
        customer_id = await new_customer(stores[0])
        flows = await asyncio.gather(
            *(stores[i % 3].flows.create(Flow(customer_id=customer_id, name=f"f{i}")) for i in range(60))
        )
        items, _ = await stores[1].flows.list_page(customer_id, page_size=100)
        assert {f.id for f in items} == {f.id for f in flows}
    finally:
        for store in stores:
            await store.aclose()


async def test_memory_database(tmp_path: Path) -> None:
    async with await Store.open("sqlite+aiosqlite://") as store:
        customer_id = await new_customer(store)
        flows = await asyncio.gather(*(store.flows.create(Flow(customer_id=customer_id)) for _ in range(5)))
        assert len((await store.flows.list_page(customer_id)).items) == len(flows)


async def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    url = f"postgresql+asyncpg://flowengine:hunter2@127.0.0.1:{_free_port()}/flowengine"
    with pytest.raises(StoreUnavailableError) as error:
        await Store.open(url)
    assert "cannot open the database postgresql+asyncpg://flowengine:***@127.0.0.1" in str(error.value)
    assert "hunter2" not in str(error.value)


async def test_unwritable_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailableError, match="cannot create the folder"):
        await Store.open(f"sqlite+aiosqlite:///{blocker / 'sub' / 'x.db'}")


async def test_ping(store: Store) -> None:
    await store.ping()
    async with store.db.read() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1

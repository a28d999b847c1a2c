"""Store fixtures: every repository test runs on a real SQLite file and a real PostgreSQL."""
from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowengine.store import Customer, Store, generate_secret_key
from tests.store.pgserver import PostgresServer

BACKENDS = ["sqlite", "postgresql"]
SECRET_KEY = generate_secret_key()
_names = itertools.count()


class FrozenClock:
    """A clock that stands still until moved: rows created meanwhile share one timestamp."""

    def __init__(self, start: datetime = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_shared_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('store') / 'shared.db'}"


@pytest.fixture(scope="session")
async def postgresql_shared_url(postgres: PostgresServer) -> str:
    return await postgres.create_database("shared")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shared_url(request: pytest.FixtureRequest, backend: str) -> str:
    """One migrated database per backend for the whole run; tests keep apart by using fresh customers."""
    return str(request.getfixturevalue(f"{backend}_shared_url"))


@pytest.fixture
async def empty_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A database of its own, empty (for migration and key tests)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return await server.create_database(f"empty_{next(_names)}")


@pytest.fixture
async def store(shared_url: str) -> AsyncIterator[Store]:
    store = await Store.open(shared_url, secret_keys=[SECRET_KEY])
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
async def empty_store(empty_url: str) -> AsyncIterator[Store]:
    """A database of its own (for work that looks at every customer's records, like start-up recovery)."""
    store = await Store.open(empty_url, secret_keys=[SECRET_KEY])
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def frozen_store(shared_url: str, clock: FrozenClock) -> AsyncIterator[Store]:
    """The shared database seen through a clock the test controls."""
    store = await Store.open(shared_url, secret_keys=[SECRET_KEY], clock=clock)
    try:
        yield store
    finally:
        await store.aclose()


async def new_customer(store: Store, name: str = "customer") -> str:
    return (await store.customers.create(Customer(name=name))).id


@pytest.fixture
async def customer_id(store: Store) -> str:
    return await new_customer(store, "A")


@pytest.fixture
async def other_customer_id(store: Store) -> str:
    return await new_customer(store, "B")

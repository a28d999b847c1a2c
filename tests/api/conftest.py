"""API fixtures: the app over the store (SQLite and PostgreSQL), customers with keys, an HTTP client."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.store import Customer, Store
from tests.store import conftest as store_fixtures

# the store tests' fixtures: every API test runs on a real SQLite file and a real PostgreSQL
postgres = store_fixtures.postgres
sqlite_shared_url = store_fixtures.sqlite_shared_url
postgresql_shared_url = store_fixtures.postgresql_shared_url
backend = store_fixtures.backend
shared_url = store_fixtures.shared_url
store = store_fixtures.store

ADMIN_KEY = "admin-key-for-tests-0123456789"


@dataclass
class Tenant:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_tenant(store: Store, name: str = "tenant") -> Tenant:
    customer = await store.customers.create(Customer(name=name))
    issued = await store.accesskeys.issue(customer.id, name="test key")
    return Tenant(customer.id, issued.token.get_secret_value())


@pytest.fixture
async def frozen(shared_url: str) -> AsyncIterator[tuple[Store, store_fixtures.FrozenClock]]:
    """The API's database seen through a clock the test moves: records created and updated at known times."""
    clock = store_fixtures.FrozenClock()
    store = await Store.open(shared_url, secret_keys=[store_fixtures.SECRET_KEY], clock=clock)
    try:
        yield store, clock
    finally:
        await store.aclose()


@pytest.fixture
def deps(store: Store) -> ApiDeps:
    return ApiDeps(store=store, admin_key=SecretStr(ADMIN_KEY))


@pytest.fixture
async def client(deps: ApiDeps) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def tenant(store: Store) -> Tenant:
    return await new_tenant(store, "A")


@pytest.fixture
async def other(store: Store) -> Tenant:
    return await new_tenant(store, "B")

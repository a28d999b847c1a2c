"""Customers: admin CRUD and the webhook secret, encrypted at rest like engine keys."""
from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from flowengine.store import Customer, NotFoundError, Store
from flowengine.store.customers import customers


async def test_crud(store: Store) -> None:
    created = await store.customers.create(
        Customer(name="Acme", email="ops@acme.test", webhook_method="POST", webhook_uri="https://acme.test/hook")
    )
    assert created.status == "active" and created.revision == 1
    assert await store.customers.get(created.id) == created
    updated = await store.customers.update(created.id, status="frozen", expected_revision=1)
    assert updated.status == "frozen" and updated.revision == 2
    items, _ = await store.customers.list_page(page_size=100, filters={"email": "ops@acme.test"})
    assert [c.id for c in items] == [created.id]
    await store.customers.delete(created.id)
    with pytest.raises(NotFoundError, match=f"customer {created.id} not found"):
        await store.customers.get(created.id)
    assert (await store.customers.get(created.id, include_deleted=True)).deleted


async def test_webhook_secret_is_encrypted_and_explicit(store: Store) -> None:
    created = await store.customers.create(Customer(name="Acme"), webhook_secret="whsec-very-secret")
    async with store.db.read() as conn:
        row = (await conn.execute(select(customers).where(customers.c.id == created.id))).one()
    assert "whsec-very-secret" not in str(tuple(row))
    assert await store.customers.get_webhook_secret(created.id) == SecretStr("whsec-very-secret")

    await store.customers.update(created.id, name="Acme Inc")  # keeps the secret
    assert await store.customers.get_webhook_secret(created.id) == SecretStr("whsec-very-secret")
    await store.customers.update(created.id, webhook_secret=SecretStr("rotated"))
    assert await store.customers.get_webhook_secret(created.id) == SecretStr("rotated")
    await store.customers.update(created.id, webhook_secret="")
    assert await store.customers.get_webhook_secret(created.id) is None


async def test_ensure_creates_once(shared_url: str) -> None:
    nodes = [await Store.open(shared_url) for _ in range(3)]
    try:
        wanted = Customer(name="default")
        made = await asyncio.gather(*(node.customers.ensure(wanted) for node in nodes))
        assert {c.id for c in made} == {wanted.id} and {c.revision for c in made} == {1}
        assert (await nodes[0].customers.ensure(Customer(id=wanted.id, name="other"))).name == "default"
    finally:
        for node in nodes:
            await node.aclose()

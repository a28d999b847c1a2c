"""Access keys: hashed with a per-key salt, found by the presented token, dead once expired,
deleted or orphaned by a deleted customer."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from flowengine.store import Store
from flowengine.store.accesskeys import PREFIX_LENGTH, accesskeys
from tests.store.conftest import FrozenClock, new_customer


async def test_issue_then_authenticate(store: Store) -> None:
    customer_id = await new_customer(store)
    issued = await store.accesskeys.issue(customer_id, name="ci", detail="for the pipeline", admin=True)
    token = issued.token.get_secret_value()
    assert token.startswith("fe_") and len(token) == 46
    assert issued.key.token_prefix == token[:PREFIX_LENGTH]
    assert issued.key.admin and issued.key.name == "ci"
    assert await store.accesskeys.authenticate(token) == issued.key
    assert await store.accesskeys.authenticate(issued.token) == issued.key
    assert token not in repr(issued) + issued.key.model_dump_json()


async def test_only_a_salted_hash_is_stored(store: Store) -> None:
    customer_id = await new_customer(store)
    one, two = [await store.accesskeys.issue(customer_id) for _ in range(2)]
    async with store.db.read() as conn:
        rows = (
            await conn.execute(select(accesskeys).where(accesskeys.c.id.in_([one.key.id, two.key.id])))
        ).all()
    assert len(rows) == 2
    for row, issued in zip(sorted(rows, key=lambda r: r.id == two.key.id), (one, two), strict=True):
        assert issued.token.get_secret_value() not in str(tuple(row))
    assert rows[0].token_salt != rows[1].token_salt


async def test_wrong_tokens_find_nothing(store: Store) -> None:
    customer_id = await new_customer(store)
    token = (await store.accesskeys.issue(customer_id)).token.get_secret_value()
    same_prefix = token[:PREFIX_LENGTH] + "A" * (len(token) - PREFIX_LENGTH)
    for wrong in (same_prefix, token + "x", token[:-1], "", "fe_", "Bearer " + token, token.upper()):
        assert await store.accesskeys.authenticate(wrong) is None


async def test_expired_deleted_and_orphaned_keys_stop_working(frozen_store: Store, clock: FrozenClock) -> None:
    store = frozen_store
    customer_id = await new_customer(store)
    expiring = await store.accesskeys.issue(customer_id, tm_expire=clock.now + timedelta(hours=1))
    deleted = await store.accesskeys.issue(customer_id)
    orphan_owner = await new_customer(store)
    orphaned = await store.accesskeys.issue(orphan_owner)

    assert await store.accesskeys.authenticate(expiring.token) is not None
    clock.advance(hours=1)
    assert await store.accesskeys.authenticate(expiring.token) is None

    await store.accesskeys.delete(customer_id, deleted.key.id)
    assert await store.accesskeys.authenticate(deleted.token) is None

    assert await store.accesskeys.authenticate(orphaned.token) is not None
    await store.customers.delete(orphan_owner)
    assert await store.accesskeys.authenticate(orphaned.token) is None


async def test_keys_list_per_customer(store: Store) -> None:
    a, b = await new_customer(store), await new_customer(store)
    mine = [await store.accesskeys.issue(a, name=f"k{i}") for i in range(3)]
    await store.accesskeys.issue(b)
    items, _ = await store.accesskeys.list_page(a)
    assert [k.id for k in items] == [i.key.id for i in reversed(mine)]

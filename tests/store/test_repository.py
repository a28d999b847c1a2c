"""What every customer-scoped repository does alike: create/get/list/update, soft delete,
tenancy isolation, conditional writes and refused changes (each on SQLite and PostgreSQL)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from flowengine.store import (
    NOT_YET,
    AlreadyExistsError,
    InvalidChangeError,
    InvalidQueryError,
    NotFoundError,
    PreconditionFailedError,
    StaleRevisionError,
    Store,
)
from tests.store.conftest import FrozenClock, new_customer
from tests.store.samples import CHANGES, REPOSITORIES, SAMPLES, create, repository

pytestmark = pytest.mark.parametrize("name", REPOSITORIES)


async def test_create_stamps_and_get_round_trips(name: str, frozen_store: Store, clock: FrozenClock) -> None:
    customer_id = await new_customer(frozen_store)
    created = await create(frozen_store, name, customer_id)
    assert created.revision == 1
    assert created.tm_create == clock.now
    assert created.tm_update == NOT_YET and created.tm_delete == NOT_YET
    assert await repository(frozen_store, name).get(customer_id, created.id) == created


async def test_update_bumps_revision_and_tm_update(name: str, frozen_store: Store, clock: FrozenClock) -> None:
    customer_id = await new_customer(frozen_store)
    repo = repository(frozen_store, name)
    created = await create(frozen_store, name, customer_id)
    later = clock.advance(seconds=5)
    updated = await repo.update(customer_id, created.id, **CHANGES[name])
    assert updated.revision == 2 and updated.tm_update == later and updated.tm_create == created.tm_create
    for field, value in CHANGES[name].items():
        assert getattr(updated, field) == value
    assert await repo.get(customer_id, created.id) == updated


async def test_soft_delete_hides_the_row_but_keeps_it(name: str, store: Store) -> None:
    customer_id = await new_customer(store)
    repo = repository(store, name)
    kept = await create(store, name, customer_id)
    gone = await create(store, name, customer_id)
    deleted = await repo.delete(customer_id, gone.id)
    assert deleted.deleted and deleted.tm_delete != NOT_YET and deleted.revision == 2

    with pytest.raises(NotFoundError):
        await repo.get(customer_id, gone.id)
    assert [r.id for r in (await repo.list_page(customer_id)).items] == [kept.id]
    assert await repo.get(customer_id, gone.id, include_deleted=True) == deleted
    listed = (await repo.list_page(customer_id, include_deleted=True)).items
    assert {r.id for r in listed} == {kept.id, gone.id}
    with pytest.raises(NotFoundError):
        await repo.update(customer_id, gone.id, **CHANGES[name])
    with pytest.raises(NotFoundError):
        await repo.delete(customer_id, gone.id)
    async with store.db.read() as conn:  # still in the table
        row = (await conn.execute(select(repo.table.c.id).where(repo.table.c.id == gone.id))).first()
    assert row is not None


async def test_another_customer_cannot_see_or_touch_the_row(name: str, store: Store) -> None:
    owner, intruder = await new_customer(store, "A"), await new_customer(store, "B")
    repo = repository(store, name)
    row = await create(store, name, owner)
    await create(store, name, intruder)  # B has rows of its own

    with pytest.raises(NotFoundError) as missing:
        await repo.get(intruder, row.id)
    assert str(missing.value) == f"{repo.resource} {row.id} not found"  # same as a row that does not exist
    with pytest.raises(NotFoundError):
        await repo.get(intruder, row.id, include_deleted=True)
    assert row.id not in {r.id for r in (await repo.list_page(intruder, include_deleted=True)).items}
    with pytest.raises(NotFoundError):
        await repo.update(intruder, row.id, **CHANGES[name])
    with pytest.raises(NotFoundError):
        await repo.delete(intruder, row.id)
    assert await repo.get(owner, row.id) == row  # untouched


async def test_a_resource_cannot_move_to_another_customer(name: str, store: Store) -> None:
    owner, other = await new_customer(store), await new_customer(store)
    row = await create(store, name, owner)
    with pytest.raises(InvalidChangeError, match="customer_id cannot be changed"):
        await repository(store, name).update(owner, row.id, customer_id=other)


async def test_create_needs_a_live_customer(name: str, store: Store) -> None:
    with pytest.raises(NotFoundError, match=r"^customer "):
        await create(store, name, "6f7a8b9c-0d1e-4345-8012-345678901234")
    customer_id = await new_customer(store)
    await store.customers.delete(customer_id)
    with pytest.raises(NotFoundError, match=r"^customer "):
        await create(store, name, customer_id)


async def test_ids_are_unique_across_customers(name: str, store: Store) -> None:
    first, second = await new_customer(store), await new_customer(store)
    row = await create(store, name, first)
    clash = SAMPLES[name](second).model_copy(update={"id": row.id})
    if name == "accesskeys":  # ids and tokens of keys are always made by issue()
        with pytest.raises(TypeError, match="issue"):
            await store.accesskeys.create(clash)  # type: ignore[arg-type]
        return
    with pytest.raises(AlreadyExistsError):
        await repository(store, name).create(clash)


async def test_refused_changes(name: str, store: Store) -> None:
    customer_id = await new_customer(store)
    repo = repository(store, name)
    row = await create(store, name, customer_id)
    with pytest.raises(InvalidChangeError, match="no field 'colour'"):
        await repo.update(customer_id, row.id, colour="red")
    for server_field in ("id", "revision", "tm_create", "tm_delete"):
        with pytest.raises(InvalidChangeError, match="cannot be changed"):
            await repo.update(customer_id, row.id, **{server_field: getattr(row, server_field)})
    field = next(iter(CHANGES[name]))
    with pytest.raises(InvalidChangeError):
        bad: dict[str, Any] = {field: {"not": "valid"}}
        await repo.update(customer_id, row.id, **bad)
    assert await repo.get(customer_id, row.id) == row


async def test_expected_revision_and_preconditions(name: str, store: Store) -> None:
    customer_id = await new_customer(store)
    repo = repository(store, name)
    row = await create(store, name, customer_id)
    moved = await repo.update(customer_id, row.id, expected_revision=1, **CHANGES[name])
    with pytest.raises(StaleRevisionError) as stale:
        await repo.update(customer_id, row.id, expected_revision=1, **CHANGES[name])
    assert (stale.value.expected, stale.value.actual) == (1, 2)
    with pytest.raises(StaleRevisionError):
        await repo.delete(customer_id, row.id, expected_revision=1)
    field = next(iter(CHANGES[name]))
    with pytest.raises(PreconditionFailedError):
        await repo.update(customer_id, row.id, when={field: ("something else",)}, **CHANGES[name])
    assert await repo.get(customer_id, row.id) == moved


async def test_unknown_filters_are_refused(name: str, store: Store) -> None:
    customer_id = await new_customer(store)
    with pytest.raises(InvalidQueryError, match="cannot be filtered by 'customer_id'"):
        await repository(store, name).list_page(customer_id, filters={"customer_id": customer_id})

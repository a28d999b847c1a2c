"""Numbers: one live row per number across customers, found by number for routing, reusable once deleted."""
from __future__ import annotations

import pytest

from flowengine.store import AlreadyExistsError, Number, Store
from tests.store.conftest import new_customer

FLOW = "5f7a8b9c-0d1e-4345-8012-345678901234"


async def test_a_number_is_unique_across_customers_until_deleted(store: Store) -> None:
    a, b = await new_customer(store), await new_customer(store)
    mine = await store.numbers.create(Number(customer_id=a, number="+15550100", call_flow_id=FLOW, name="main"))
    with pytest.raises(AlreadyExistsError):
        await store.numbers.create(Number(customer_id=b, number="+15550100"))
    found = await store.numbers.find_live("+15550100")
    assert found == mine and found.customer_id == a and found.call_flow_id == FLOW
    assert await store.numbers.find_live("+15550199") is None
    await store.numbers.delete(a, mine.id)
    assert await store.numbers.find_live("+15550100") is None
    theirs = await store.numbers.create(Number(customer_id=b, number="+15550100"))
    assert (await store.numbers.find_live("+15550100")) == theirs


async def test_numbers_are_listed_per_customer(store: Store) -> None:
    a, b = await new_customer(store), await new_customer(store)
    await store.numbers.create(Number(customer_id=a, number="+15550101"))
    await store.numbers.create(Number(customer_id=b, number="+15550102"))
    listed = await store.numbers.list_page(a)
    assert [n.number for n in listed.items] == ["+15550101"]

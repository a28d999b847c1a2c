"""`of_every_customer`: the engine's cross-customer listing for start-up recovery (filters, order, deleted rows)."""
from __future__ import annotations

import pytest

from flowengine.store import Call, InvalidQueryError, Store, Summary
from tests.store.conftest import FrozenClock, new_customer


async def test_lists_matching_live_rows_of_every_customer_oldest_first(frozen_store: Store, clock: FrozenClock) -> None:
    store = frozen_store
    a, b = await new_customer(store, "A"), await new_customer(store, "B")
    first = await store.calls.create(Call(customer_id=b, direction="incoming", status="ringing"))
    clock.advance(seconds=1)
    second = await store.calls.create(Call(customer_id=a, direction="outgoing", status="progressing"))
    tied = await store.calls.create(Call(customer_id=b, direction="incoming", status="progressing"))
    over = await store.calls.create(Call(customer_id=a, direction="incoming", status="hangup"))
    deleted = await store.calls.create(Call(customer_id=a, direction="incoming", status="progressing"))
    await store.calls.delete(a, deleted.id)

    # the database is shared with other tests: only this test's rows are looked at
    mine = {first.id, second.id, tied.id, over.id, deleted.id}
    found = [c for c in await store.calls.of_every_customer(filters={"status": ["ringing", "progressing"]})
             if c.id in mine]
    assert [c.id for c in found] == [first.id, *sorted([second.id, tied.id])]
    assert {c.customer_id for c in found} == {a, b}
    one = [c.id for c in await store.calls.of_every_customer(filters={"status": "hangup"}) if c.id in mine]
    assert one == [over.id]


async def test_filters_are_checked_like_a_customers_list(store: Store) -> None:
    with pytest.raises(InvalidQueryError, match="'content'"):
        await store.summaries.of_every_customer(filters={"content": "x"})
    customer_id = await new_customer(store)
    made = await store.summaries.create(Summary(customer_id=customer_id, reference_id=customer_id))
    listed = await store.summaries.of_every_customer(filters={"status": "progressing", "reference_id": customer_id})
    assert listed == [made]

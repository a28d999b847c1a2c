"""Pagination: VoIPBIN's newest-first timestamp tokens, without losing or repeating rows that
share a timestamp (on SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowengine.store import Flow, InvalidQueryError, Store
from flowengine.store.pagination import MAX_PAGE_SIZE, Cursor, check_page_size
from tests.store.conftest import FrozenClock, new_customer


async def _all_pages(store: Store, customer_id: str, page_size: int) -> tuple[list[str], list[str | None]]:
    ids: list[str] = []
    tokens: list[str | None] = []
    token: str | None = None
    while True:
        items, token = await store.flows.list_page(customer_id, page_size=page_size, page_token=token)
        ids += [f.id for f in items]
        tokens.append(token)
        if token is None:
            return ids, tokens


@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 7, 20])
async def test_pages_with_equal_timestamps_lose_and_repeat_nothing(
    frozen_store: Store, clock: FrozenClock, page_size: int
) -> None:
    customer_id = await new_customer(frozen_store)
    created = []
    for group in (3, 4, 1, 2):  # runs of rows sharing one timestamp
        created += [await frozen_store.flows.create(Flow(customer_id=customer_id, name="f")) for _ in range(group)]
        clock.advance(milliseconds=1)

    ids, tokens = await _all_pages(frozen_store, customer_id, page_size)

    newest_first = sorted(created, key=lambda f: (f.tm_create, f.id), reverse=True)
    assert ids == [f.id for f in newest_first]
    assert len(tokens) == -(-len(created) // page_size)
    assert tokens[-1] is None


async def test_token_is_voipbin_timestamp_unless_a_tie_splits_the_page(
    frozen_store: Store, clock: FrozenClock
) -> None:
    customer_id = await new_customer(frozen_store)
    old = await frozen_store.flows.create(Flow(customer_id=customer_id, name="old"))
    clock.advance(seconds=1)
    twins = [await frozen_store.flows.create(Flow(customer_id=customer_id, name="twin")) for _ in range(2)]

    _, token = await frozen_store.flows.list_page(customer_id, page_size=2)
    assert token == "2024-03-01 10:00:01.000000"  # the boundary falls between timestamps
    _, token = await frozen_store.flows.list_page(customer_id, page_size=1)
    first = max(twins, key=lambda f: f.id)
    assert token == f"2024-03-01 10:00:01.000000|{first.id}"  # the twins are split
    items, _ = await frozen_store.flows.list_page(customer_id, page_size=5, page_token=token)
    assert [f.id for f in items] == [min(twins, key=lambda f: f.id).id, old.id]


async def test_a_bare_timestamp_means_created_before(frozen_store: Store, clock: FrozenClock) -> None:
    customer_id = await new_customer(frozen_store)
    old = await frozen_store.flows.create(Flow(customer_id=customer_id, name="old"))
    clock.advance(seconds=1)
    await frozen_store.flows.create(Flow(customer_id=customer_id, name="new"))
    for token in ("2024-03-01 10:00:01.000000", "2024-03-01T10:00:01.000000Z", "2024-03-01T10:00:00.5+00:00"):
        items, next_token = await frozen_store.flows.list_page(customer_id, page_token=token)
        assert [f.id for f in items] == [old.id] and next_token is None


async def test_filters_and_pages_combine(store: Store) -> None:
    customer_id = await new_customer(store)
    kept = [await store.flows.create(Flow(customer_id=customer_id, name="f", persist=True)) for _ in range(3)]
    for _ in range(3):
        await store.flows.create(Flow(customer_id=customer_id, name="tmp", persist=False))
    first, token = await store.flows.list_page(customer_id, page_size=2, filters={"persist": True})
    rest, last = await store.flows.list_page(customer_id, page_size=2, page_token=token, filters={"persist": True})
    assert [f.id for f in first + rest] == [f.id for f in reversed(kept)] and last is None
    both, _ = await store.flows.list_page(customer_id, page_size=10, filters={"name": ["f", "tmp"]})
    assert len(both) == 6


async def test_bad_page_requests(store: Store) -> None:
    customer_id = await new_customer(store)
    for size in (0, -1, MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidQueryError, match="page_size"):
            await store.flows.list_page(customer_id, page_size=size)
    with pytest.raises(InvalidQueryError, match="page_token 'yesterday'"):
        await store.flows.list_page(customer_id, page_token="yesterday")


def test_cursor_round_trip() -> None:
    when = datetime(2024, 2, 9, 7, 1, 35, 666687, tzinfo=UTC)
    assert Cursor(when).token() == "2024-02-09 07:01:35.666687"
    assert Cursor.parse("2024-02-09 07:01:35.666687") == Cursor(when)
    tied = Cursor(when, "6f7a8b9c-0d1e-4345-8012-345678901234")
    assert Cursor.parse(tied.token()) == tied
    assert check_page_size(MAX_PAGE_SIZE) == MAX_PAGE_SIZE

"""The webhook outbox: lanes in order, leases, retries, give-up, backlog, and nodes claiming apart."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from flowengine.store import Backlog, OutboxEntry, Store
from tests.store.conftest import SECRET_KEY, FrozenClock


@pytest.fixture
async def outbox_store(empty_url: str, clock: FrozenClock) -> AsyncIterator[Store]:
    """A database of its own (the outbox is one table for every customer), on a clock the test moves."""
    store = await Store.open(empty_url, secret_keys=[SECRET_KEY], clock=clock)
    try:
        yield store
    finally:
        await store.aclose()


def entry(lane: str, n: int) -> OutboxEntry:
    return OutboxEntry(lane=lane, customer_id=f"{lane:0>36}"[:36], event_type="call_hangup",
                       url=f"http://127.0.0.1:9/{lane}", method="POST", body=f'{{"n":{n}}}')


async def test_only_the_head_of_each_lane_is_claimed(outbox_store: Store) -> None:
    outbox = outbox_store.outbox
    ids = await outbox.add([entry("a", 1), entry("a", 2), entry("b", 1), entry("a", 3)])
    assert ids == sorted(ids)
    first = await outbox.claim(10, lease_s=30)
    assert [(r.lane, r.body) for r in first] == [("a", '{"n":1}'), ("b", '{"n":1}')]
    assert await outbox.claim(10, lease_s=30) == []  # heads leased, the rest of lane a waits behind
    await outbox.delivered(first[0].id)
    [second] = await outbox.claim(10, lease_s=30)
    assert (second.lane, second.body) == ("a", '{"n":2}')


async def test_a_lease_runs_out_and_a_release_ends_it(outbox_store: Store, clock: FrozenClock) -> None:
    outbox = outbox_store.outbox
    await outbox.add([entry("a", 1), entry("b", 1)])
    a, b = await outbox.claim(10, lease_s=30)
    clock.advance(seconds=29)
    assert await outbox.claim(10, lease_s=30) == []
    clock.advance(seconds=2)  # the node holding them died: their leases ran out
    assert {r.id for r in await outbox.claim(10, lease_s=30)} == {a.id, b.id}
    await outbox.release([a.id])
    assert [r.id for r in await outbox.claim(10, lease_s=30)] == [a.id]


async def test_a_retry_waits_and_still_holds_its_lane(outbox_store: Store, clock: FrozenClock) -> None:
    outbox = outbox_store.outbox
    await outbox.add([entry("a", 1), entry("a", 2)])
    [head] = await outbox.claim(10, lease_s=30)
    when = clock.now + timedelta(seconds=5)
    await outbox.retry_at(head.id, when, "HTTP 503")
    assert await outbox.claim(10, lease_s=30) == []
    assert await outbox.next_due() == when
    clock.advance(seconds=5)
    [again] = await outbox.claim(10, lease_s=30)
    assert (again.id, again.attempts, again.last_error) == (head.id, 1, "HTTP 503")


async def test_given_up_rows_stay_for_inspection_and_free_their_lane(outbox_store: Store, clock: FrozenClock) -> None:
    outbox = outbox_store.outbox
    await outbox.add([entry("a", 1)])
    clock.advance(seconds=10)
    await outbox.add([entry("a", 2)])
    assert await outbox.backlog() == Backlog(2, clock.now - timedelta(seconds=10))
    [head] = await outbox.claim(10, lease_s=30)
    await outbox.give_up(head.id, "ClientConnectorError")
    [failed] = await outbox.rows(status="failed")
    assert (failed.id, failed.status, failed.attempts, failed.last_error) == (head.id, "failed", 1,
                                                                              "ClientConnectorError")
    [nxt] = await outbox.claim(10, lease_s=30)
    assert nxt.body == '{"n":2}'
    backlog = await outbox.backlog()
    assert (backlog.count, backlog.oldest) == (1, clock.now)
    await outbox.delivered(nxt.id)
    assert (await outbox.backlog()).count == 0 and (await outbox.backlog()).oldest is None
    assert await outbox.next_due() is None


async def test_nodes_claiming_together_never_take_the_same_row(empty_url: str) -> None:
    nodes = [await Store.open(empty_url, secret_keys=[SECRET_KEY]) for _ in range(3)]
    try:
        await nodes[0].outbox.add([entry(f"lane{n % 20}", n) for n in range(60)])
        claimed: list[int] = []
        for _ in range(4):
            rounds = await asyncio.gather(*(node.outbox.claim(5, lease_s=30) for node in nodes))
            for rows in rounds:
                claimed += [r.id for r in rows]
        assert len(claimed) == len(set(claimed)) == 20  # each lane's head once, by one node
    finally:
        for node in nodes:
            await node.aclose()

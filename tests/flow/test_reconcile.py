"""Calls a previous engine left live are hung up at start-up (SQLite and PostgreSQL): the reason that fits each,
`call_hangup` as the registry publishes it, every customer's, and the running engine's own calls untouched."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowengine.events import Event, EventBus
from flowengine.flow.reconcile import hang_up_stale_calls
from flowengine.store import NOT_YET, Call, Customer, Store
from flowengine.store.nodes import Owners
from flowengine.store.views import view
from tests.store import conftest as store_fixtures

postgres = store_fixtures.postgres
backend = store_fixtures.backend
empty_url = store_fixtures.empty_url

ANSWERED = datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)


empty_store = store_fixtures.empty_store


@pytest.fixture
def store(empty_store: Store) -> Store:
    """A database of its own: start-up recovery looks at every customer's records."""
    return empty_store


async def customer(store: Store, name: str) -> str:
    return (await store.customers.create(Customer(name=name))).id


async def call(store: Store, customer_id: str, status: str, *, answered: bool = False, **fields: object) -> Call:
    """A call as a previous engine left it in the store."""
    record = Call.model_validate({"customer_id": customer_id, "direction": "incoming", "status": status,
                                  "channel_id": f"1700000000.{status}", "tm_progressing": ANSWERED if answered
                                  else NOT_YET, **fields})
    return await store.calls.create(record)


def drain(events: list[Event]) -> dict[str, Event]:
    return {e.data["id"]: e for e in events if e.type.startswith("call_")}


async def test_every_customers_live_calls_are_hung_up_with_the_reason_that_fits(store: Store) -> None:
    a, b, gone = await customer(store, "A"), await customer(store, "B"), await customer(store, "C")
    talking = await call(store, a, "progressing", answered=True)
    ringing = await call(store, a, "ringing")
    dialing = await call(store, b, "dialing", direction="outgoing")
    leaving = await call(store, b, "terminating", answered=True)
    dropped = await call(store, b, "terminating")
    canceling = await call(store, b, "canceling", direction="outgoing")
    orphan = await call(store, gone, "progressing", answered=True)
    await store.customers.delete(gone)  # a deleted customer's records are still the engine's to settle
    ended = await call(store, a, "hangup", answered=True, hangup_by="remote", hangup_reason="busy")
    current = await call(store, a, "progressing", answered=True)  # the running engine's own call
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)

    settled = await hang_up_stale_calls(store, bus, known={current.id})

    expected = {talking.id: ("failed", "local"), ringing.id: ("failed", "local"), dialing.id: ("failed", "local"),
                leaving.id: ("normal", "local"), dropped.id: ("cancel", "local"), canceling.id: ("cancel", "local"),
                orphan.id: ("failed", "local")}
    assert sorted(r.id for r in settled) == sorted(expected)
    published = drain(seen)
    assert set(published) == set(expected)
    for call_id, (reason, by) in expected.items():
        owner = next(r.customer_id for r in settled if r.id == call_id)
        record = await store.calls.get(owner, call_id)
        assert (record.status, record.hangup_reason, record.hangup_by) == ("hangup", reason, by), call_id
        assert record.tm_hangup != NOT_YET and record.tm_hangup >= record.tm_create
        event = published[call_id]
        assert event.type == "call_hangup" and event.customer_id == owner
        assert event.data == view(record, exclude=("channel_id",)) and "channel_id" not in event.data
    # what was over, and what the running engine owns, is left alone
    assert await store.calls.get(a, ended.id) == ended
    assert await store.calls.get(a, current.id) == current
    # a second start finds nothing left to settle
    seen.clear()
    again = await hang_up_stale_calls(store, bus)  # a next start: `current` is not known to it
    assert [r.id for r in again] == [current.id] and [e.data["id"] for e in seen] == [current.id]
    assert await hang_up_stale_calls(store, bus) == [] and len(seen) == 1


async def test_a_node_hangs_up_its_own_previous_runs_calls_and_a_lost_nodes_naming_it(store: Store) -> None:
    a = await customer(store, "A")
    owned: dict[str, Call] = {}
    for node in ("me", "", "live-node", "dead-node"):
        store.own(node)
        owned[node] = await call(store, a, "progressing", answered=True, metadata={"crm": 7})
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)

    restarted = await hang_up_stale_calls(store, bus, owners=Owners.previous_run("me"))
    assert sorted(r.id for r in restarted) == sorted([owned["me"].id, owned[""].id])
    assert all(r.metadata == {"crm": 7} for r in restarted)  # a restart's own calls: nothing to name

    lost = await hang_up_stale_calls(store, bus, owners=Owners.lost("me", live={"live-node"}))
    assert [r.id for r in lost] == [owned["dead-node"].id]
    record = await store.calls.get(a, owned["dead-node"].id)
    assert (record.status, record.hangup_reason, record.hangup_by) == ("hangup", "failed", "local")
    assert record.metadata == {"crm": 7, "hangup_detail": "node-lost:dead-node"}
    assert drain(seen)[record.id].data["metadata"] == record.metadata  # webhooks say which node was lost
    # a live node's call is never touched
    assert (await store.calls.get(a, owned["live-node"].id)).status == "progressing"

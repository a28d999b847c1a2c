"""Calls: VoIPBIN's call fields round-trip; hangup happens once; lookup by Asterisk channel."""
from __future__ import annotations

from flowengine.store import NOT_YET, Address, Call, Store
from tests.store.conftest import FrozenClock, new_customer


async def test_fields_round_trip(store: Store) -> None:
    customer_id = await new_customer(store)
    call = await store.calls.create(
        Call(
            customer_id=customer_id,
            direction="outgoing",
            source=Address(type="tel", target="+15550100", target_name="Support"),
            destination=Address(type="sip", target="sip:bob@example.test", name="Bob"),
            chained_call_ids=["6f7a8b9c-0d1e-4345-8012-345678901234"],
            action={"id": "a1", "type": "talk", "option": {"text": "hi"}},
            metadata={"rtp_debug": True},
            channel_id="1700000000.42",
        )
    )
    got = await store.calls.get(customer_id, call.id)
    assert got == call and got.destination.target == "sip:bob@example.test"
    assert got.status == "dialing" and got.tm_ringing == got.tm_progressing == got.tm_hangup == NOT_YET


async def test_status_progress_and_hangup_once(frozen_store: Store, clock: FrozenClock) -> None:
    store = frozen_store
    customer_id = await new_customer(store)
    call = await store.calls.create(Call(customer_id=customer_id, direction="incoming"))
    answered_at = clock.advance(seconds=2)
    await store.calls.update(customer_id, call.id, status="progressing", tm_progressing=answered_at)
    hung_at = clock.advance(seconds=30)
    done, changed = await store.calls.hangup(customer_id, call.id, by="remote", reason="normal")
    assert changed and done.status == "hangup" and done.tm_hangup == hung_at
    assert (done.hangup_by, done.hangup_reason) == ("remote", "normal")
    clock.advance(seconds=1)
    again, changed = await store.calls.hangup(customer_id, call.id, by="local", reason="failed")
    assert not changed and again == done


async def test_find_by_channel(store: Store) -> None:
    customer_id, other = await new_customer(store), await new_customer(store)
    call = await store.calls.create(Call(customer_id=customer_id, direction="incoming", channel_id="chan-1"))
    assert await store.calls.find_by_channel(customer_id, "chan-1") == call
    assert await store.calls.find_by_channel(other, "chan-1") is None
    assert await store.calls.find_by_channel(customer_id, "chan-2") is None

"""Activeflows: VoIPBIN's initial state, JSON state round trips, and the concurrency rules
two engine nodes rely on (optimistic revisions, atomic end)."""
from __future__ import annotations

import asyncio
from typing import Any

from flowengine.store import NIL_ID, NOT_YET, Activeflow, StaleRevisionError, Store
from flowengine.store.activeflows import MAIN_STACK_ID, START_ACTION_ID
from tests.store.conftest import SECRET_KEY, new_customer


async def test_initial_state_is_voipbins(store: Store) -> None:
    customer_id = await new_customer(store)
    af = await store.activeflows.create(Activeflow(customer_id=customer_id, reference_type="api"))
    assert af.status == "running"
    assert af.current_stack_id == MAIN_STACK_ID and af.current_action == {"id": START_ACTION_ID}
    assert af.forward_stack_id == af.forward_action_id == NIL_ID
    assert af.execute_count == 0 and af.executed_actions == [] and af.tm_end == NOT_YET


async def test_cursor_state_round_trips(store: Store) -> None:
    customer_id = await new_customer(store)
    af = await store.activeflows.create(Activeflow(customer_id=customer_id))
    stack_map: dict[str, Any] = {
        MAIN_STACK_ID: {
            "id": MAIN_STACK_ID,
            "actions": [{"id": "a", "type": "talk", "option": {"text": "héllo ${name}", "z": 1, "a": [1, "2"]}}],
            "return_stack_id": NIL_ID,
            "return_action_id": NIL_ID,
        }
    }
    moved = await store.activeflows.update(
        customer_id,
        af.id,
        expected_revision=af.revision,
        stack_map=stack_map,
        current_action=stack_map[MAIN_STACK_ID]["actions"][0],
        executed_actions=[af.current_action],
        execute_count=1,
        variables={"voipbin.call.source.target": "+15550100", "name": "Ann"},
    )
    got = await store.activeflows.get(customer_id, af.id)
    assert got == moved and got.stack_map == stack_map
    assert list(got.current_action["option"]) == ["text", "z", "a"]  # key order kept


async def test_of_two_nodes_moving_one_cursor_only_one_wins(shared_url: str) -> None:
    nodes = [await Store.open(shared_url, secret_keys=[SECRET_KEY]) for _ in range(2)]
    try:
        customer_id = await new_customer(nodes[0])
        af = await nodes[0].activeflows.create(Activeflow(customer_id=customer_id))
        seen = [await node.activeflows.get(customer_id, af.id) for node in nodes]

        async def move(node: Store, read: Activeflow, step: int) -> Activeflow | StaleRevisionError:
            try:
                return await node.activeflows.update(
                    customer_id, af.id, expected_revision=read.revision, execute_count=step
                )
            except StaleRevisionError as error:
                return error

        outcomes = await asyncio.gather(*(move(nodes[i % 2], seen[i % 2], i + 1) for i in range(8)))
        winners = [o for o in outcomes if isinstance(o, Activeflow)]
        assert len(winners) == 1 and winners[0].revision == 2
        final = await nodes[1].activeflows.get(customer_id, af.id)
        assert final == winners[0]
    finally:
        for node in nodes:
            await node.aclose()


async def test_unconditional_updates_are_serialized(shared_url: str) -> None:
    nodes = [await Store.open(shared_url, secret_keys=[SECRET_KEY]) for _ in range(2)]
    try:
        customer_id = await new_customer(nodes[0])
        af = await nodes[0].activeflows.create(Activeflow(customer_id=customer_id))
        await asyncio.gather(
            *(nodes[i % 2].activeflows.update(customer_id, af.id, variables={"n": str(i)}) for i in range(20))
        )
        assert (await nodes[0].activeflows.get(customer_id, af.id)).revision == 21  # no write lost
    finally:
        for node in nodes:
            await node.aclose()


async def test_end_happens_once(shared_url: str) -> None:
    nodes = [await Store.open(shared_url, secret_keys=[SECRET_KEY]) for _ in range(2)]
    try:
        customer_id = await new_customer(nodes[0])
        af = await nodes[0].activeflows.create(Activeflow(customer_id=customer_id))
        results = await asyncio.gather(
            *(nodes[i % 2].activeflows.end(customer_id, af.id, reason=f"r{i}") for i in range(6))
        )
        assert sum(changed for _, changed in results) == 1
        ended, _ = next(r for r in results if r[1])
        assert ended.status == "ended" and ended.tm_end != NOT_YET and ended.ended_reason.startswith("r")
        again, changed = await nodes[0].activeflows.end(customer_id, af.id, reason="late")
        assert not changed and again == ended
    finally:
        for node in nodes:
            await node.aclose()


async def test_filters(store: Store) -> None:
    customer_id = await new_customer(store)
    call_ref = "6f7a8b9c-0d1e-4345-8012-345678901234"
    mine = await store.activeflows.create(
        Activeflow(customer_id=customer_id, reference_type="call", reference_id=call_ref)
    )
    await store.activeflows.create(Activeflow(customer_id=customer_id, reference_type="api"))
    items, _ = await store.activeflows.list_page(customer_id, filters={"reference_id": call_ref, "status": "running"})
    assert items == [mine]

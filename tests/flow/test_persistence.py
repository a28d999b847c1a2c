"""Activeflows persisted in a real SQLite store as they run; a restart ends what was left running."""
from __future__ import annotations

import asyncio
from pathlib import Path

from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.context import Services
from flowengine.flow.model import Flow
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID, ActiveflowRecorder
from flowengine.flow.service import FlowService
from flowengine.store import Activeflow as StoredActiveflow
from flowengine.store import Customer, Store
from flowengine.store.nodes import Owners
from tests.support import Flows

FLOW = Flow.model_validate({"id": "main", "name": "main", "actions": [
    {"id": "a", "type": "variable_set", "option": {"key": "x", "value": "1"}},
    {"id": "b", "type": "block"},
    {"id": "c", "type": "empty"},
]})


async def test_cursor_and_end_are_stored_and_a_restart_recovers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}"
    store = await Store.open(url)
    try:
        recorder = ActiveflowRecorder(store)
        await recorder.ensure_customer()
        service = FlowService(Services(flows=Flows(FLOW), observers=(recorder,)))
        runner = service.create(FLOW, reference_type=ReferenceType.API)
        task = asyncio.ensure_future(service.run(runner))
        af_id = runner.activeflow.id
        for _ in range(100):
            if runner.activeflow.current_action.id == "b":
                break
            await asyncio.sleep(0.02)
        row = await store.activeflows.get(ENGINE_CUSTOMER_ID, af_id)
        assert row.status == "running" and row.current_action["id"] == "b"
        assert row.variables["x"] == "1" and [a["id"] for a in row.executed_actions] == ["a"]

        runner.continue_block("b")
        await asyncio.wait_for(task, 5)
        row = await store.activeflows.get(ENGINE_CUSTOMER_ID, af_id)
        assert row.status == "ended" and row.ended_reason == "finished" and row.current_action["id"] == "c"

        # A second activeflow is left blocked when "the engine dies" (its task is simply dropped).
        stale = service.create(FLOW, reference_type=ReferenceType.API)
        stale_task = asyncio.ensure_future(service.run(stale))
        for _ in range(100):
            if stale.activeflow.current_action.id == "b":
                break
            await asyncio.sleep(0.02)
        stale_task.cancel()
        await asyncio.gather(stale_task, return_exceptions=True)
    finally:
        await store.aclose()

    # cancelling ended it through the runner's own cleanup; make it look left behind for recovery
    store = await Store.open(url)
    try:
        await store.activeflows.update(ENGINE_CUSTOMER_ID, stale.activeflow.id, status="running")
        recovered = await ActiveflowRecorder(store).recover()
        assert [r.id for r in recovered] == [stale.activeflow.id]
        row = await store.activeflows.get(ENGINE_CUSTOMER_ID, stale.activeflow.id)
        assert row.status == "ended" and row.ended_reason.startswith("engine restarted while running at action")
    finally:
        await store.aclose()


async def test_a_restart_ends_every_customers_activeflows(tmp_path: Path) -> None:
    # Activeflows the API started for its customers were left running and paused as well as the engine's own.
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        recorder = ActiveflowRecorder(store)
        await recorder.ensure_customer()
        customer = await store.customers.create(Customer(name="acme"))
        left = [await store.activeflows.create(StoredActiveflow(customer_id=owner, status=status,
                                                                current_action={"id": "talk-1"}))
                for owner, status in ((customer.id, "running"), (customer.id, "paused"), (ENGINE_CUSTOMER_ID, "running"))]
        done = await store.activeflows.create(StoredActiveflow(customer_id=customer.id, status="ended"))
        recovered = await recorder.recover()
        assert sorted(r.id for r in recovered) == sorted(a.id for a in left)
        for record in left:
            row = await store.activeflows.get(record.customer_id, record.id)
            assert row.status == "ended"
            assert row.ended_reason == f"engine restarted while {record.status} at action 'talk-1'"
        assert (await store.activeflows.get(customer.id, done.id)).ended_reason == ""
        assert await recorder.recover() == []
    finally:
        await store.aclose()


async def test_a_lost_nodes_activeflows_are_ended_naming_it_and_a_live_nodes_left_running(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        recorder = ActiveflowRecorder(store)
        customer = await store.customers.create(Customer(name="acme"))
        flows: dict[str, StoredActiveflow] = {}
        for node in ("me", "live-node", "dead-node"):
            store.own(node)
            flows[node] = await store.activeflows.create(StoredActiveflow(
                customer_id=customer.id, status="paused", current_action={"id": "talk-1"}))
        ended = await recorder.recover(Owners.lost("me", live={"live-node"}))
        assert [r.id for r in ended] == [flows["dead-node"].id]
        assert ended[0].ended_reason == "node-lost:dead-node while paused at action 'talk-1'"
        assert (await store.activeflows.get(customer.id, flows["live-node"].id)).status == "paused"
        mine = await recorder.recover(Owners.previous_run("me"))
        assert [r.id for r in mine] == [flows["me"].id]
        assert mine[0].ended_reason == "engine restarted while paused at action 'talk-1'"
        assert (await store.activeflows.get(customer.id, flows["live-node"].id)).status == "paused"
    finally:
        await store.aclose()

"""Activeflows persisted in a real SQLite store as they run; a restart ends what was left running."""
from __future__ import annotations

import asyncio
from pathlib import Path

from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.context import Services
from flowengine.flow.model import Flow
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID, ActiveflowRecorder
from flowengine.flow.service import FlowService
from flowengine.store import Store
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
        service = FlowService(Services(flows=Flows(FLOW), observers=[recorder]))
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

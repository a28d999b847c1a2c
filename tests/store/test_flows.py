"""Flows: action documents and variables round-trip as JSON, in order; temporary flows."""
from __future__ import annotations

from typing import Any

from flowengine.store import Flow, Store
from tests.store.conftest import new_customer

ACTIONS: list[dict[str, Any]] = [
    {"id": "menu", "type": "talk", "option": {"text": "Welcome to ${company}", "digits_handle": "next"}},
    {"id": "route", "next_id": None, "type": "branch", "option": {"target_ids": {"1": "sales", "2": "menu"}}},
    {"id": "sales", "type": "connect", "option": {"destinations": [{"type": "tel", "target": "+15550100"}]}},
]


async def test_document_round_trips(store: Store) -> None:
    customer_id = await new_customer(store)
    flow = await store.flows.create(
        Flow(customer_id=customer_id, name="main", detail="IVR", actions=ACTIONS, variables={"company": "Acme"})
    )
    got = await store.flows.get(customer_id, flow.id)
    assert got == flow and got.actions == ACTIONS
    assert [list(a) for a in got.actions] == [list(a) for a in ACTIONS]  # key order kept
    assert got.type == "flow" and got.persist


async def test_temporary_flows_are_kept_apart(store: Store) -> None:
    customer_id = await new_customer(store)
    kept = await store.flows.create(Flow(customer_id=customer_id, name="kept"))
    await store.flows.create(Flow(customer_id=customer_id, name="inline", persist=False))
    items, _ = await store.flows.list_page(customer_id, filters={"persist": True})
    assert items == [kept]

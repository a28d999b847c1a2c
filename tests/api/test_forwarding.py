"""Live operations reach the node that owns the record: two nodes' APIs on one database, the bus between them."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.api.forwarding import Forwarder, LiveKind, Owner, StoreOwners
from flowengine.store import Activeflow, AIcall, Store
from flowengine.store.noderequests import NodeRequests
from flowengine.store.notify import NotifyBus
from tests.api.conftest import ADMIN_KEY, Tenant, new_tenant
from tests.store.conftest import SECRET_KEY, FrozenClock


@dataclass
class Owners:
    """Who owns which record, as the nodes table will say (the port the API forwards through)."""

    by_id: dict[str, Owner] = field(default_factory=dict)

    async def __call__(self, kind: LiveKind, customer_id: str, id: str) -> Owner | None:
        return self.by_id.get(id)


@dataclass
class Node:
    store: Store
    bus: NotifyBus
    requests: NodeRequests
    forwarder: Forwarder
    http: httpx.AsyncClient


# how long a node waits for the owner's answer: a forward goes through PostgreSQL's NOTIFY both ways, and on a busy
# 2-core host 0.5 s was once not enough (a full run's 503); a silent owner still answers within it plus a margin
FORWARD_TIMEOUT_S = 1.5


@pytest.fixture
async def nodes(shared_url: str) -> AsyncIterator[tuple[Node, Node, Owners]]:
    owners = Owners()
    made: list[Node] = []
    try:
        for name in ("node-a", "node-b"):
            store = await Store.open(shared_url, secret_keys=[SECRET_KEY])
            bus = NotifyBus(store.db)
            requests = NodeRequests(bus, name)
            forwarder = Forwarder(requests, owners, timeout_s=FORWARD_TIMEOUT_S)
            deps = ApiDeps(store=store, admin_key=SecretStr(ADMIN_KEY), cluster=forwarder)
            forwarder.serve(deps)
            await requests.start()
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(deps)), base_url="http://test")
            made.append(Node(store, bus, requests, forwarder, http))
        yield made[0], made[1], owners
    finally:
        for node in made:
            await node.http.aclose()
            await node.requests.aclose()
            await node.bus.aclose()
            await node.store.aclose()


async def flow_of(node: Node) -> tuple[Tenant, Activeflow]:
    tenant = await new_tenant(node.store, "A")
    record = await node.store.activeflows.create(Activeflow(customer_id=tenant.id, reference_type="api",
                                                            status="running"))
    return tenant, record


async def test_an_operation_on_another_nodes_record_is_answered_by_that_node(
        nodes: tuple[Node, Node, Owners]) -> None:
    a, b, owners = nodes
    tenant, record = await flow_of(a)
    owners.by_id[record.id] = Owner("node-b", alive=True)
    stored = (await a.http.get(f"/v1.0/activeflows/{record.id}", headers=tenant.headers)).json()
    # stop: node b holds no runner for it, so b answers with the stored activeflow, unchanged
    stopped = await a.http.post(f"/v1.0/activeflows/{record.id}/stop", headers=tenant.headers)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == stored
    assert (a.forwarder.forwarded, b.requests.served, a.requests.served) == (1, 1, 0)
    # pause: b's refusal (409, in b's words) is a's answer
    paused = await a.http.post(f"/v1.0/activeflows/{record.id}/pause", headers=tenant.headers)
    assert paused.status_code == 409
    assert paused.json()["error"]["message"] == f"activeflow {record.id} is running here: only a running one pauses"
    assert b.requests.served == 2
    # another customer gets 404 on a, before anything travels
    other = await new_tenant(a.store, "B")
    assert (await a.http.post(f"/v1.0/activeflows/{record.id}/stop", headers=other.headers)).status_code == 404
    assert b.requests.served == 2
    # on b itself the record is b's own: nothing travels
    assert (await b.http.post(f"/v1.0/activeflows/{record.id}/stop", headers=tenant.headers)).json() == stored
    assert (b.forwarder.forwarded, a.requests.served, b.requests.served) == (0, 0, 2)


async def test_a_dead_owner_is_a_conflict_and_a_silent_one_unavailable_never_a_hang(
        nodes: tuple[Node, Node, Owners]) -> None:
    a, b, owners = nodes
    tenant, record = await flow_of(a)
    owners.by_id[record.id] = Owner("node-b", alive=False)
    lost = await a.http.post(f"/v1.0/aicalls/{record.id}/pause", headers=tenant.headers)
    assert lost.status_code == 404  # not an AI call: the customer's own lookup comes first
    lost = await a.http.post(f"/v1.0/activeflows/{record.id}/resume", headers=tenant.headers)
    assert lost.status_code == 409 and lost.json()["error"]["reason"] == "OWNER_NODE_LOST"
    assert "node node-b, whose lease has run out" in lost.json()["error"]["message"]
    assert b.requests.served == 0
    owners.by_id[record.id] = Owner("node-c", alive=True)  # its lease runs, but it hears nothing
    started = time.monotonic()
    silent = await a.http.post(f"/v1.0/activeflows/{record.id}/stop", headers=tenant.headers)
    assert silent.status_code == 503 and "node node-c, which did not answer" in silent.json()["error"]["message"]
    assert time.monotonic() - started < FORWARD_TIMEOUT_S + 2


async def test_the_owner_of_a_record_is_its_node_and_that_nodes_lease(shared_url: str) -> None:
    clock = FrozenClock()
    x = await Store.open(shared_url, secret_keys=[SECRET_KEY], clock=clock)  # node x, which runs the flow
    y = await Store.open(shared_url, secret_keys=[SECRET_KEY], clock=clock)  # node y, asked about it
    try:
        name = f"node-x-{uuid4().hex[:8]}"
        await x.nodes.claim(name, f"app-{name}", "host-x", lease_s=15)
        x.own(name)
        y.own(f"node-y-{uuid4().hex[:8]}")
        tenant = await new_tenant(x, "A")
        record = await x.activeflows.create(Activeflow(customer_id=tenant.id, reference_type="api", status="running"))
        assert await StoreOwners(y)("activeflow", tenant.id, record.id) == Owner(name, alive=True)
        assert await StoreOwners(x)("activeflow", tenant.id, record.id) is None  # its own: run it there
        clock.advance(seconds=16)  # x stopped renewing its lease
        assert await StoreOwners(y)("activeflow", tenant.id, record.id) == Owner(name, alive=False)
        await x.activeflows.update(tenant.id, record.id, status="ended")
        assert await StoreOwners(y)("activeflow", tenant.id, record.id) is None  # ended: any node answers
    finally:
        await x.aclose()
        await y.aclose()


async def test_deleting_another_nodes_running_activeflow_stops_it_on_that_node_first(
        nodes: tuple[Node, Node, Owners]) -> None:
    a, b, owners = nodes
    tenant, record = await flow_of(a)
    owners.by_id[record.id] = Owner("node-b", alive=True)
    deleted = await a.http.delete(f"/v1.0/activeflows/{record.id}", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    assert (a.forwarder.forwarded, b.requests.served) == (1, 1)  # the stop ran on node b
    assert (await a.http.get(f"/v1.0/activeflows/{record.id}", headers=tenant.headers)).status_code == 404
    tenant, record = await flow_of(a)
    owners.by_id[record.id] = Owner("node-b", alive=False)  # its owner is gone: refused, nothing deleted
    lost = await a.http.delete(f"/v1.0/activeflows/{record.id}", headers=tenant.headers)
    assert lost.status_code == 409 and lost.json()["error"]["reason"] == "OWNER_NODE_LOST"
    assert (await a.http.get(f"/v1.0/activeflows/{record.id}", headers=tenant.headers)).status_code == 200


async def test_a_message_into_another_nodes_text_ai_call_is_sent_by_that_node(
        nodes: tuple[Node, Node, Owners]) -> None:
    a, b, owners = nodes
    tenant = await new_tenant(a.store, "A")
    aicall = await a.store.aicalls.create(AIcall(customer_id=tenant.id, reference_type="conversation",
                                                 status="progressing"))
    owners.by_id[aicall.id] = Owner("node-b", alive=True)
    body = {"aicall_id": aicall.id, "content": "hello"}
    # node b runs no AI calls in this test: its own refusal, in its words, proves the message reached it
    sent = await a.http.post("/v1.0/aimessages", json=body, headers=tenant.headers)
    assert sent.status_code == 503 and "runs no AI calls" in sent.json()["error"]["message"]
    assert (a.forwarder.forwarded, b.requests.served, a.requests.served) == (1, 1, 0)
    # a bad body is refused at node a: nothing travels
    assert (await a.http.post("/v1.0/aimessages", json={**body, "content": ""}, headers=tenant.headers)
            ).status_code == 400
    assert b.requests.served == 1
    await a.store.aicalls.update(tenant.id, aicall.id, status="terminated")
    ended = await a.http.post("/v1.0/aimessages", json=body, headers=tenant.headers)
    assert ended.status_code == 409 and b.requests.served == 1

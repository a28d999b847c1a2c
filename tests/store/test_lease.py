"""NodeLease: renewed while the node runs, released when it stops; lost nodes found and settled once; a node
settled by another learns it."""
from __future__ import annotations

import asyncio
import itertools

import pytest

from flowengine.store import Store
from flowengine.store.lease import NodeLease
from flowengine.store.nodes import NodeConflictError, Owners
from tests.support import eventually

_ids = itertools.count()


def lease_of(store: Store, lease_s: float = 0.6) -> NodeLease:
    n = next(_ids)
    return NodeLease(store.nodes, f"lease-test-{n}-{id(store)}", f"lease-app-{n}-{id(store)}", "host", lease_s)


class Settled:
    """A settler that records the passes it was asked for."""

    def __init__(self) -> None:
        self.passes: list[Owners] = []

    async def __call__(self, owners: Owners) -> None:
        self.passes.append(owners)


async def test_a_running_node_keeps_its_lease_and_releases_it(store: Store) -> None:
    lease = lease_of(store)
    await lease.claim()
    lease.start()
    try:
        await asyncio.sleep(lease.lease_s * 2)  # two leases long: renewed meanwhile
        assert await store.nodes.holder(lease.ari_app) is not None
        assert lease.problem == ""
    finally:
        await lease.aclose()
    node = await store.nodes.get(lease.node_id)
    assert node is not None and node.status == "stopped"
    assert await store.nodes.holder(lease.ari_app) is None


async def test_a_lost_node_is_settled_once_by_a_live_one(store: Store) -> None:
    lost = lease_of(store, lease_s=0.3)
    await lost.claim()  # never renewed: killed right after its claim
    live = lease_of(store)
    settled = Settled()
    live.settler = settled
    await live.claim()
    live.start()
    try:
        await eventually(lambda: lost.node_id in live.settled_nodes, timeout=5.0, what="the lost node settled")
        owners = settled.passes[-1]
        assert owners.takes(lost.node_id) and not owners.takes(live.node_id) and not owners.takes("")
        assert owners.lost_node(lost.node_id) == lost.node_id
        node = await store.nodes.get(lost.node_id)
        assert node is not None and node.status == "lost"
        count = len(settled.passes)
        await asyncio.sleep(live.lease_s)  # nothing more to settle: no more passes
        assert len(settled.passes) == count
        assert await live.sweep(everything=True) == [] and len(settled.passes) == count + 1  # as at start
    finally:
        await live.aclose()


async def test_a_node_found_lost_says_so_and_stops_renewing(store: Store) -> None:
    lease = lease_of(store, lease_s=0.6)
    await lease.claim()
    lease.start()
    try:
        await store.nodes.release(lease.node_id)  # as if another node had settled it: its row is no longer live
        await eventually(lambda: bool(lease.problem), timeout=5.0, what="the problem reported")
        assert f"node {lease.node_id} was found lost by another node (stopped)" in lease.problem
    finally:
        await lease.aclose()


async def test_a_node_started_again_under_its_id_waits_for_its_killed_runs_lease(store: Store) -> None:
    killed = lease_of(store, lease_s=0.6)
    await killed.claim()  # and killed: it never renews
    again = NodeLease(store.nodes, killed.node_id, killed.ari_app, "host", 1.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await again.claim()
    assert loop.time() - started >= 0.4  # it waited for the lease to run out, no longer
    assert await store.nodes.holder(killed.ari_app) == again.node
    # while that run is live (renewing), a second process under the same id is refused after the wait
    again.start()
    try:
        twin = NodeLease(store.nodes, killed.node_id, killed.ari_app, "host", 1.5)
        with pytest.raises(NodeConflictError, match=f"held by live node '{killed.node_id}'"):
            await twin.claim()
    finally:
        await again.aclose()

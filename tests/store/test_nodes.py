"""Nodes: claiming an ARI app, leases renewed and run out, lost nodes marked, records stamped with their owner."""
from __future__ import annotations

import asyncio
import itertools

import pytest

from flowengine.store import Activeflow, AIcall, Call, Campaigncall, Store
from flowengine.store.nodes import NodeConflictError
from tests.store.conftest import FrozenClock, new_customer

_ids = itertools.count()


def _names() -> tuple[str, str]:
    """A node id and an ARI app no other test of the shared database uses."""
    n = next(_ids)
    return f"host-{n}:app-{n}", f"app-{n}-{id(_names)}"


async def test_claim_renew_release(frozen_store: Store, clock: FrozenClock) -> None:
    nodes = frozen_store.nodes
    node_id, app = _names()
    claimed = await nodes.claim(node_id, app, "host-a", lease_s=15)
    assert (claimed.status, claimed.ari_app, claimed.host) == ("live", app, "host-a")
    assert await nodes.holder(app) == claimed
    assert node_id in await nodes.live_ids()
    clock.advance(seconds=10)
    assert await nodes.renew(node_id, 15) == "live"
    clock.advance(seconds=10)  # 20 s after the claim, 10 s after the renewal: still held
    assert (await nodes.holder(app)) is not None
    await nodes.release(node_id)
    stopped = await nodes.get(node_id)
    assert stopped is not None and stopped.status == "stopped"
    assert await nodes.holder(app) is None
    assert await nodes.renew(node_id, 15) == "stopped"  # nothing extended
    assert await nodes.renew("no-such-node", 15) is None


async def test_a_held_app_is_refused_until_the_lease_runs_out(frozen_store: Store, clock: FrozenClock) -> None:
    nodes = frozen_store.nodes
    first, app = _names()
    second, _ = _names()
    await nodes.claim(first, app, "host-a", lease_s=15)
    with pytest.raises(NodeConflictError, match=f"ARI app '{app}' is held by live node '{first}'") as caught:
        await nodes.claim(second, app, "host-b", lease_s=15)
    assert caught.value.holder.id == first
    assert await nodes.get(second) is None  # nothing written
    # the same id a second time (two processes on one host and app) is refused too
    with pytest.raises(NodeConflictError):
        await nodes.claim(first, app, "host-a", lease_s=15)
    clock.advance(seconds=15)  # the first never renewed: its lease ran out
    taken = await nodes.claim(second, app, "host-b", lease_s=15)
    assert (await nodes.holder(app)) == taken


async def test_the_same_node_id_is_refused_on_another_app(frozen_store: Store) -> None:
    nodes = frozen_store.nodes
    node_id, app = _names()
    _, other_app = _names()
    await nodes.claim(node_id, app, "host-a", lease_s=15)
    with pytest.raises(NodeConflictError, match=f"node id '{node_id}' is held"):
        await nodes.claim(node_id, other_app, "host-a", lease_s=15)


async def test_expired_nodes_are_marked_lost_once(frozen_store: Store, clock: FrozenClock) -> None:
    nodes = frozen_store.nodes
    lost, app = _names()
    alive, other_app = _names()
    await nodes.claim(lost, app, "host-a", lease_s=5)
    await nodes.claim(alive, other_app, "host-b", lease_s=5)
    clock.advance(seconds=4)
    await nodes.renew(alive, 5)
    clock.advance(seconds=2)
    expired = [n.id for n in await nodes.expired()]
    assert lost in expired and alive not in expired
    assert await nodes.mark_lost([lost, alive]) == [lost]  # a node that renewed is not lost
    assert await nodes.mark_lost([lost]) == []  # a second settler finds nothing to mark
    assert await nodes.renew(lost, 5) == "lost"  # it learns it was settled
    assert lost not in await nodes.live_ids()


async def test_new_live_records_name_the_node_that_runs_them(store: Store) -> None:
    customer = await new_customer(store)
    node_id, _ = _names()
    before = await store.calls.create(Call(customer_id=customer, direction="incoming"))
    assert await store.calls.owner_of(customer, before.id) == ""  # no node named yet
    store.own(node_id)
    call = await store.calls.create(Call(customer_id=customer, direction="incoming", status="progressing"))
    flow = await store.activeflows.create(Activeflow(customer_id=customer))
    aicall = await store.aicalls.create(AIcall(customer_id=customer))
    dial = await store.campaigncalls.create(Campaigncall(customer_id=customer, campaign_id=customer))
    assert await store.calls.owner_of(customer, call.id) == node_id
    assert await store.activeflows.owner_of(customer, flow.id) == node_id
    assert await store.aicalls.owner_of(customer, aicall.id) == node_id
    assert await store.campaigncalls.owner_of(customer, dial.id) == node_id
    assert await store.calls.owners([before.id, call.id]) == {before.id: "", call.id: node_id}
    # the owner is bookkeeping: records (and the API views made of them) do not carry it
    assert "node_id" not in call.model_dump()


async def test_owned_lists_by_owner(store: Store) -> None:
    customer = await new_customer(store)
    mine, _ = _names()
    theirs, _ = _names()
    store.own(mine)
    a = await store.calls.create(Call(customer_id=customer, direction="incoming", status="progressing"))
    store.own(theirs)
    b = await store.calls.create(Call(customer_id=customer, direction="incoming", status="ringing"))
    c = await store.calls.create(Call(customer_id=customer, direction="incoming", status="hangup"))
    live = {"status": ["ringing", "progressing"]}
    assert await store.calls.owned(filters=live, nodes=[mine]) == [(a, mine)]
    assert await store.calls.owned(filters=live, nodes=[theirs]) == [(b, theirs)]
    others = [(r.id, owner) for r, owner in await store.calls.owned(filters=live, not_nodes=[mine])
              if r.customer_id == customer]
    assert others == [(b.id, theirs)]
    assert c.id not in {r.id for r, _ in await store.calls.owned(filters=live, nodes=[theirs])}


async def test_of_nodes_claiming_one_app_at_once_exactly_one_wins(shared_url: str) -> None:
    stores = [await Store.open(shared_url) for _ in range(4)]
    _, app = _names()
    try:
        outcomes = await asyncio.gather(*(s.nodes.claim(f"racer-{i}-{app}", app, "host", lease_s=15)
                                          for i, s in enumerate(stores)), return_exceptions=True)
        winners = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(o, NodeConflictError) for o in outcomes if isinstance(o, BaseException))
        assert await stores[0].nodes.holder(app) == winners[0]
    finally:
        for s in stores:
            await s.aclose()

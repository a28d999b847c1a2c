"""One campaign dialled by two engine nodes on one PostgreSQL, through the real Asterisk: every target once,
the campaign's concurrency and pace caps held across both nodes, and each node dialling part of it."""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from flowengine.asterisk.ari.client import AriClient
from flowengine.events import Event
from tests.campaign.harness import CUSTOMER, campaign_harness
from tests.conftest import Asterisk
from tests.store.pgserver import PostgresServer
from tests.support import eventually

TARGETS = 40


@pytest.mark.asterisk
async def test_two_nodes_dial_one_campaign_once_each_within_its_caps(
        asterisk: Asterisk, ari: AriClient, postgres: PostgresServer) -> None:
    url = await postgres.create_database("campaign_cluster")
    created: Counter[str] = Counter()

    def count(node: str) -> Callable[[Event], None]:
        def listener(event: Event) -> None:
            if event.type == "campaigncall_created":
                created[node] += 1
        return listener

    async with campaign_harness(asterisk, ari, url, bus=True) as a, campaign_harness(asterisk, ari, url, bus=True) as b:
        unsubscribe = [a.events.subscribe(count("a")), b.events.subscribe(count("b"))]
        campaign = await a.make([f"talk{n}" for n in range(TARGETS)], max_concurrent_calls=4, calls_per_second=8,
                                actions=[{"type": "sleep", "option": {"duration": 600}}])
        await a.service.set_status(CUSTOMER, campaign.id, "run")  # node b hears of it and dials it too
        await eventually(lambda: campaign.id in b.service.tasks, what="node b dialling the campaign")
        async with asyncio.timeout(120):
            for node in (a, b):
                await node.service.wait_stopped(campaign.id)
        for unsub in unsubscribe:
            unsub()
        done = await a.store.campaigns.get(CUSTOMER, campaign.id)
        targets = await a.targets(campaign)
        calls = await b.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)

    channels = a.channels  # both nodes dial through the one Asterisk: AMI sees every channel
    assert done.status == "stop" and done.execute == "stop"
    assert len(channels.started) == TARGETS
    assert all(channels.dialed(f"talk{n}") == 1 for n in range(TARGETS))  # no target dialled twice
    assert channels.max_concurrent() <= 4  # the campaign's cap, held across the two nodes
    # 8 calls per second: the claims reserve originations 125 ms apart; what Asterisk sees of them moves by the
    # two nodes' scheduling (tens of ms on a loaded machine), so the pace is checked as a rate: any 9 successive
    # originations span at least one second (less 10 %), and 40 of them at least 39 intervals' time
    starts = sorted(channels.started.values())
    assert min(later - first for first, later in zip(starts, starts[8:], strict=False)) >= 1.0 * 0.9
    assert starts[-1] - starts[0] >= 39 * 0.125 * 0.9
    assert sorted(c.outdial_target_id for c in calls) == sorted(t.id for t in targets.values())
    assert all(t.status == "done" and t.try_count_0 == 1 for t in targets.values())
    assert {c.result for c in calls} == {"success"}
    assert created["a"] + created["b"] == TARGETS and created["a"] > 0 and created["b"] > 0, created
    await eventually(lambda: asterisk.channels() == [], what="all channels gone")


@pytest.mark.asterisk
async def test_a_stop_on_one_node_stops_both_once_every_call_has_ended(
        asterisk: Asterisk, ari: AriClient, postgres: PostgresServer) -> None:
    url = await postgres.create_database("campaign_cluster_stop")
    async with campaign_harness(asterisk, ari, url, bus=True) as a, campaign_harness(asterisk, ari, url) as b:
        campaign = await a.make([f"talk{n}" for n in range(20)], max_concurrent_calls=4, calls_per_second=20,
                                actions=[{"type": "sleep", "option": {"duration": 3000}}])
        await a.service.set_status(CUSTOMER, campaign.id, "run")
        await eventually(lambda: a.service.dialers[campaign.id].slots.used == 4 and len(a.channels.started) == 4,
                         timeout=20, what="four calls up on node a")
        await b.service.join(CUSTOMER, campaign.id)  # b dials it too, but holds none of its calls when it stops it
        stopping = await b.service.set_status(CUSTOMER, campaign.id, "stop")
        assert stopping.status == "stopping"
        dialled = len(a.channels.started)
        async with asyncio.timeout(60):
            await b.service.wait_stopped(campaign.id)
            # b is done; a's calls are still up, so the campaign is still stopping
            assert await a.store.dialclaims.live(campaign.id) == 4
            assert (await a.store.campaigns.get(CUSTOMER, campaign.id)).status == "stopping"
            await a.service.wait_stopped(campaign.id)
        done = await a.store.campaigns.get(CUSTOMER, campaign.id)
        calls = await a.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
    assert done.status == "stop" and done.execute == "stop"
    assert len(a.channels.started) == dialled  # nothing dialled after the stop
    assert len(calls) == dialled and all(c.status == "done" for c in calls)
    await eventually(lambda: asterisk.channels() == [], what="all channels gone")

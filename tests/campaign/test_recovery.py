"""Settling open campaign dials: a restart's own (`interrupted`), a lost node's (`node-lost:<id>`), never a live
node's, whose targets stay `progressing`."""
from __future__ import annotations

from pathlib import Path

from flowengine.campaign.recovery import recover
from flowengine.campaign.resources import Resources
from flowengine.events import EventBus
from flowengine.store import Campaign, Campaigncall, Outdial, OutdialTarget, Outplan
from flowengine.store.nodes import Owners
from flowengine.store.records import Address
from tests.campaign.harness import CUSTOMER, open_store


async def test_only_the_owners_dials_are_settled_and_a_lost_node_is_named(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "c.db")
    try:
        resources = Resources(store, EventBus())
        plan = await resources.create_outplan(Outplan(customer_id=CUSTOMER, name="plan",
                                                      source=Address(type="tel", target="5550100")))
        outdial = await resources.create_outdial(Outdial(customer_id=CUSTOMER, name="list"))
        campaign = await resources.create_campaign(Campaign(customer_id=CUSTOMER, name="c", outplan_id=plan.id,
                                                            outdial_id=outdial.id, status="run"))
        dials: dict[str, Campaigncall] = {}
        for node, status in (("me", "progressing"), ("live-node", "progressing"), ("dead-node", "dialing")):
            target = await resources.create_target(OutdialTarget(
                customer_id=CUSTOMER, outdial_id=outdial.id, name=node, status="progressing", try_count_0=1,
                destination_0=Address(type="extension", target=node)))
            store.own(node)
            dials[node] = await store.campaigncalls.create(Campaigncall(
                customer_id=CUSTOMER, campaign_id=campaign.id, outdial_id=outdial.id, outdial_target_id=target.id,
                status=status, try_count=1))

        assert await recover(resources, campaign, Owners.lost("me", live={"live-node"})) == 1
        lost = await store.campaigncalls.get(CUSTOMER, dials["dead-node"].id)
        assert (lost.status, lost.result, lost.hangup_reason) == ("done", "fail", "node-lost:dead-node")
        targets = {t.name: t for t in await store.outdialtargets.all_of(CUSTOMER, outdial.id)}
        assert (targets["dead-node"].status, targets["dead-node"].try_count_0) == ("idle", 0)  # dialled again
        # a live node's dial and target, and this node's own, are left to their owners
        assert (await store.campaigncalls.get(CUSTOMER, dials["live-node"].id)).status == "progressing"
        assert (await store.campaigncalls.get(CUSTOMER, dials["me"].id)).status == "progressing"
        assert targets["live-node"].status == targets["me"].status == "progressing"

        assert await recover(resources, campaign, Owners.previous_run("me")) == 1
        mine = await store.campaigncalls.get(CUSTOMER, dials["me"].id)
        assert (mine.status, mine.result, mine.hangup_reason) == ("done", "success", "interrupted")
        targets = {t.name: t for t in await store.outdialtargets.all_of(CUSTOMER, outdial.id)}
        assert targets["me"].status == "done" and targets["live-node"].status == "progressing"
        assert (await store.campaigncalls.get(CUSTOMER, dials["live-node"].id)).status == "progressing"
    finally:
        await store.aclose()

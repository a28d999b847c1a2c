"""Stores a checked campaign file once: outplan, outdial with its targets, campaign; a re-run finds them."""
from __future__ import annotations

import logging

from flowengine.campaign.plan import CampaignPlan, child_id
from flowengine.campaign.resources import Resources
from flowengine.campaign.targets import TargetRow
from flowengine.store.campaigns import Campaign
from flowengine.store.errors import NotFoundError
from flowengine.store.outdials import Outdial
from flowengine.store.outplans import Outplan

log = logging.getLogger(__name__)


async def import_plan(resources: Resources, plan: CampaignPlan, rows: list[TargetRow], campaign_id: str,
                      customer_id: str) -> tuple[Campaign, bool]:
    """The campaign of this file: (existing one, False) or (newly stored one, True)."""
    store = resources.store
    try:
        return await store.campaigns.get(customer_id, campaign_id), False
    except NotFoundError:
        pass
    spec = plan.outplan
    outplan = await resources.create_outplan(Outplan(
        id=child_id(campaign_id, "outplan"), customer_id=customer_id, name=plan.name, **spec.dial_rules(),
        call_window=spec.call_window.model_dump(mode="json") if spec.call_window else None))
    outdial = await resources.create_outdial(Outdial(
        id=child_id(campaign_id, "outdial"), customer_id=customer_id, campaign_id=campaign_id, name=plan.name))
    await resources.add_targets(customer_id, outdial.id, rows)
    campaign = await resources.create_campaign(Campaign(
        id=campaign_id, customer_id=customer_id, type=plan.type, name=plan.name, detail=plan.detail,
        end_handle=plan.end_handle, flow_id=plan.flow_id, actions=plan.actions, outplan_id=outplan.id,
        outdial_id=outdial.id, next_campaign_id=plan.next_campaign_id,
        max_concurrent_calls=plan.max_concurrent_calls, calls_per_second=plan.calls_per_second))
    log.info("campaign %s stored with %d targets", campaign.id, len(rows))
    return campaign, True

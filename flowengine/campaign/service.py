"""Campaigns of the engine: run/stop through status, one dialer task each, resume after a restart, chains."""
from __future__ import annotations

import asyncio
import logging

from flowengine.campaign.dialer import Dialer
from flowengine.campaign.pacing import AsteriskCaps
from flowengine.campaign.recovery import recover
from flowengine.campaign.resources import CampaignConfigError, Resources
from flowengine.events import EventBus
from flowengine.flow.errors import FlowError
from flowengine.flow.loader import load_actions
from flowengine.flow.model import Flow
from flowengine.flow.service import FlowNotFound, FlowService
from flowengine.store import Store
from flowengine.store.campaigns import Campaign, CampaignStatus
from flowengine.store.nodes import EVERY_NODE, Owners
from flowengine.store.notify import Message, NotifyBus, Subscription
from flowengine.store.records import NIL_ID
from flowengine.tasks import TaskOwner
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)

CAMPAIGNS_CHANNEL = "flowengine_campaigns"
"""Where a node announces a campaign it set running, so every node dials it (claims keep them within its caps)."""


class CampaignService:
    """`set_status(run)` starts a dialer; `set_status(stop)` makes it `stopping` until its calls end,
    then `stop`. `start()` settles what a previous process left and resumes running campaigns. With a `bus`
    (several nodes on one PostgreSQL), a campaign set running on any node is dialled by every node."""

    def __init__(self, store: Store, events: EventBus, flows: FlowService, caps: AsteriskCaps,
                 bus: NotifyBus | None = None) -> None:
        self.resources = Resources(store, events)
        self.store = store
        self.flows = flows
        self.caps = caps
        self.dialers: dict[str, Dialer] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}  # each running campaign's dialer task, by campaign id
        self._tasks = TaskOwner("campaigns")  # ... which this owns
        self._bus = bus
        self._heard: Subscription | None = None

    async def start(self, owners: Owners = EVERY_NODE) -> None:
        """Settles the open dials of `owners` (this node's previous run), then runs the running campaigns."""
        if self._bus is not None:
            self._heard = await self._bus.listen(CAMPAIGNS_CHANNEL)
            self._tasks.start(self._hear(self._heard), name="campaigns of other nodes")
        for campaign in await self.store.campaigns.running():
            await recover(self.resources, campaign, owners)
            if campaign.status == "stopping":
                await self._stopped(campaign)
            else:
                await self._launch(campaign)

    async def settle(self, owners: Owners) -> int:
        """Settles the open dials of `owners` (lost nodes) in every running campaign; returns how many."""
        return sum([await recover(self.resources, campaign, owners) for campaign in await self.store.campaigns.running()])

    def flow_of(self, campaign: Campaign) -> Flow:
        """The campaign's actions as a flow, else its `flow_id` from the engine's flows."""
        if campaign.actions:
            try:
                actions = load_actions(campaign.actions, name=f"campaign {campaign.id} actions")
            except (FlowError, ValueError) as exc:
                raise CampaignConfigError(f"actions: {exc}") from None
            return Flow(id=campaign.flow_id if campaign.flow_id != NIL_ID else campaign.id,
                        name=f"campaign {campaign.name}", type="campaign", actions=actions)
        if campaign.flow_id == NIL_ID:
            raise CampaignConfigError("actions: a campaign needs actions or a flow_id")
        try:
            with acting_for(campaign.customer_id):
                return self.flows.get_flow(campaign.flow_id)
        except FlowNotFound as exc:
            raise CampaignConfigError(f"flow_id: {exc}") from None

    async def set_status(self, customer_id: str, id: str, status: CampaignStatus) -> Campaign:
        """`run` or `stop` (what PUT /campaigns/{id}/status takes)."""
        campaign = await self.store.campaigns.get(customer_id, id)
        if status == "run":
            if campaign.status == "run" and id in self.tasks:
                return campaign
            if campaign.status == "stopping":
                if id in self.tasks or await self.store.dialclaims.live(id):
                    raise CampaignConfigError("status: the campaign is stopping; wait for it to stop")
                campaign = await self._stopped(campaign)  # its last calls ended on a node that is gone
            await self.resources.check_campaign(campaign)
            if campaign.outplan_id == NIL_ID or campaign.outdial_id == NIL_ID:
                raise CampaignConfigError("outplan_id/outdial_id: a campaign needs both to run")
            self.flow_of(campaign)
            campaign = await self.resources.set_campaign(customer_id, id, "campaign_status_run", status="run")
            await self._launch(campaign)
            if self._bus is not None:
                await self._bus.send(CAMPAIGNS_CHANNEL, Message("campaign_run", {"customer_id": customer_id, "id": id}))
            return campaign
        if status != "stop":
            raise CampaignConfigError(f"status: must be 'run' or 'stop', got {status!r}")
        if campaign.status == "stop":
            return campaign
        dialer = self.dialers.get(id)
        if dialer is None and not await self.store.dialclaims.live(id):
            return await self._stopped(campaign)
        campaign = await self.resources.set_campaign(customer_id, id, "campaign_status_stopping", status="stopping")
        if dialer is not None:
            dialer.wake.set()
        return campaign

    async def join(self, customer_id: str, id: str) -> None:
        """Dials a campaign that another node set running, beside it, unless it no longer runs or already
        dials here."""
        campaign = await self.store.campaigns.get(customer_id, id)
        if campaign.status == "run" and id not in self.tasks:
            log.info("campaign %s runs on another node: dialling it here too", id)
            await self._launch(campaign)

    async def _hear(self, heard: Subscription) -> None:
        async for message in heard:
            if message.type != "campaign_run":
                continue
            try:
                await self.join(str(message.body["customer_id"]), str(message.body["id"]))
            except Exception:
                log.exception("campaign %s announced by node %s could not be joined", message.body.get("id"),
                              message.sender or "?")

    async def _launch(self, campaign: Campaign) -> None:
        plan = await self.store.outplans.get(campaign.customer_id, campaign.outplan_id)
        dialer = Dialer(self.resources, self.flows, self.caps, campaign, plan, self.flow_of(campaign))
        campaign = await self.resources.set_campaign(campaign.customer_id, campaign.id, "campaign_updated",
                                                     execute="run")
        self.dialers[campaign.id] = dialer
        with acting_for(campaign.customer_id):  # the dialer's tasks (and flows) act for the campaign's customer
            self.tasks[campaign.id] = self._tasks.start(self._execute(dialer), name=f"campaign-{campaign.id}")

    async def _execute(self, dialer: Dialer) -> None:
        campaign = dialer.campaign
        finished = False
        try:
            finished = await dialer.run()
        except Exception:
            log.exception("campaign %s: execute failed; stopping it", campaign.id)
        finally:
            self.dialers.pop(campaign.id, None)
            self.tasks.pop(campaign.id, None)
        current = await self.store.campaigns.get(campaign.customer_id, campaign.id)
        if current.status == "stopping" and await self.store.dialclaims.live(campaign.id):
            # another node's dials of it still run: the node whose calls end last finds none and stops it
            log.info("campaign %s: this node's calls ended; another node's still run", campaign.id)
            return
        await self._stopped(current)
        if finished and current.next_campaign_id != NIL_ID:
            log.info("campaign %s finished; starting next campaign %s", current.id, current.next_campaign_id)
            try:
                await self.set_status(current.customer_id, current.next_campaign_id, "run")
            except Exception:
                log.exception("campaign %s: next campaign %s could not start", current.id, current.next_campaign_id)

    async def _stopped(self, campaign: Campaign) -> Campaign:
        if campaign.status == "stop" and campaign.execute == "stop":
            return campaign
        return await self.resources.set_campaign(campaign.customer_id, campaign.id, "campaign_status_stop",
                                                 status="stop", execute="stop")

    async def wait_stopped(self, id: str) -> None:
        """Until the campaign's dialer (if any) has ended and its calls are done."""
        task = self.tasks.get(id)
        if task is not None:
            await asyncio.shield(task)

    async def stop_all(self) -> None:
        """Graceful: every running campaign to `stopping`, then wait until their calls end."""
        for campaign_id, dialer in list(self.dialers.items()):
            await self.set_status(dialer.customer_id, campaign_id, "stop")
        for task in list(self.tasks.values()):
            await asyncio.shield(task)

    async def aclose(self) -> None:
        """Abrupt (engine shutdown): dialers and their calls are cancelled; their state stays in the store
        as it was, and the next `start()` settles it exactly as after a crash."""
        await self._tasks.aclose()
        if self._heard is not None:
            await self._heard.close()

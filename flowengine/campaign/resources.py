"""Campaigns, outplans, outdials, targets and campaigncalls: checked writes that announce themselves as events."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flowengine.campaign.targets import TargetRow
from flowengine.campaign.views import view
from flowengine.campaign.windows import CallWindow
from flowengine.events import EventBus
from flowengine.flow.errors import FlowError
from flowengine.flow.loader import load_actions
from flowengine.store import Store
from flowengine.store.campaigncalls import Campaigncall
from flowengine.store.campaigns import Campaign
from flowengine.store.dialclaims import Candidate, Claimed, Refused
from flowengine.store.errors import NotFoundError
from flowengine.store.outdials import Outdial, OutdialTarget
from flowengine.store.outplans import DESTINATION_SLOTS, Outplan
from flowengine.store.records import NIL_ID, Record


class CampaignConfigError(ValueError):
    """A campaign refers to something missing or carries bad actions; the message names the field."""


class Resources:
    """The one place campaign resources are written, so every change emits its VoIPBIN event."""

    def __init__(self, store: Store, events: EventBus) -> None:
        self.store = store
        self.events = events

    def _emit(self, type: str, record: Record, customer_id: str) -> None:
        self.events.emit(type, customer_id, view(record))

    # outplans
    async def create_outplan(self, outplan: Outplan) -> Outplan:
        if outplan.call_window is not None:
            CallWindow.model_validate(outplan.call_window)
        done = await self.store.outplans.create(outplan)
        self._emit("outplan_created", done, done.customer_id)
        return done

    async def update_outplan(self, customer_id: str, id: str, **changes: Any) -> Outplan:
        if changes.get("call_window"):
            CallWindow.model_validate(changes["call_window"])
        done = await self.store.outplans.update(customer_id, id, **changes)
        self._emit("outplan_updated", done, customer_id)
        return done

    async def delete_outplan(self, customer_id: str, id: str) -> Outplan:
        done = await self.store.outplans.delete(customer_id, id)
        self._emit("outplan_deleted", done, customer_id)
        return done

    # outdials and targets
    async def create_outdial(self, outdial: Outdial) -> Outdial:
        done = await self.store.outdials.create(outdial)
        self._emit("outdial_created", done, done.customer_id)
        return done

    async def update_outdial(self, customer_id: str, id: str, **changes: Any) -> Outdial:
        done = await self.store.outdials.update(customer_id, id, **changes)
        self._emit("outdial_updated", done, customer_id)
        return done

    async def delete_outdial(self, customer_id: str, id: str) -> Outdial:
        done = await self.store.outdials.delete(customer_id, id)
        self._emit("outdial_deleted", done, customer_id)
        return done

    async def create_target(self, target: OutdialTarget) -> OutdialTarget:
        await self.store.outdials.get(target.customer_id, target.outdial_id)
        done = await self.store.outdialtargets.create(target)
        self._emit("outdialtarget_created", done, done.customer_id)
        return done

    async def add_targets(self, customer_id: str, outdial_id: str, rows: Iterable[TargetRow]) -> list[OutdialTarget]:
        """Targets from a checked list (see targets.py), in file order."""
        made = []
        for row in rows:
            slots = {f"destination_{i}": row.destinations[i] for i in range(DESTINATION_SLOTS)}
            made.append(await self.create_target(OutdialTarget(
                customer_id=customer_id, outdial_id=outdial_id, name=row.name, detail=row.detail, data=row.data,
                timezone=row.timezone, **slots)))
        return made

    async def update_target(self, customer_id: str, id: str, **changes: Any) -> OutdialTarget:
        done = await self.store.outdialtargets.update(customer_id, id, **changes)
        self._emit("outdialtarget_updated", done, customer_id)
        return done

    async def delete_target(self, customer_id: str, id: str) -> OutdialTarget:
        done = await self.store.outdialtargets.delete(customer_id, id)
        self._emit("outdialtarget_deleted", done, customer_id)
        return done

    # campaigns
    async def check_campaign(self, campaign: Campaign) -> None:
        """Refs belong to the customer; actions are a valid flow; a flow or actions is given."""
        cid = campaign.customer_id
        try:
            if campaign.outplan_id != NIL_ID:
                await self.store.outplans.get(cid, campaign.outplan_id)
            if campaign.outdial_id != NIL_ID:
                await self.store.outdials.get(cid, campaign.outdial_id)
            if campaign.next_campaign_id not in (NIL_ID, campaign.id):
                await self.store.campaigns.get(cid, campaign.next_campaign_id)
        except NotFoundError as exc:
            raise CampaignConfigError(str(exc)) from None
        if campaign.next_campaign_id == campaign.id:
            raise CampaignConfigError("next_campaign_id: a campaign cannot chain to itself")
        if campaign.queue_id != NIL_ID:
            raise CampaignConfigError("queue_id: queues are not supported; use max_concurrent_calls")
        if campaign.actions:
            try:
                load_actions(campaign.actions, name="campaign.actions")
            except (FlowError, ValueError) as exc:
                raise CampaignConfigError(f"actions: {exc}") from None

    async def create_campaign(self, campaign: Campaign) -> Campaign:
        """New campaigns start stopped (status and execute `stop`), as in VoIPBIN."""
        campaign = campaign.model_copy(update={"status": "stop", "execute": "stop"})
        await self.check_campaign(campaign)
        done = await self.store.campaigns.create(campaign)
        self._emit("campaign_created", done, done.customer_id)
        return done

    async def update_campaign(self, customer_id: str, id: str, **changes: Any) -> Campaign:
        current = await self.store.campaigns.get(customer_id, id)
        await self.check_campaign(current.model_copy(update=changes))
        done = await self.store.campaigns.update(customer_id, id, **changes)
        self._emit("campaign_updated", done, customer_id)
        return done

    async def set_campaign(self, customer_id: str, id: str, event: str, **changes: Any) -> Campaign:
        """A runtime change (status, execute) with its own event type (`campaign_status_run`...)."""
        done = await self.store.campaigns.update(customer_id, id, **changes)
        self._emit(event, done, customer_id)
        return done

    async def delete_campaign(self, customer_id: str, id: str) -> Campaign:
        done = await self.store.campaigns.delete(customer_id, id)
        self._emit("campaign_deleted", done, customer_id)
        return done

    # campaigncalls
    async def create_call(self, call: Campaigncall) -> Campaigncall:
        done = await self.store.campaigncalls.create(call)
        self._emit("campaigncall_created", done, done.customer_id)
        return done

    async def claim_dial(self, customer_id: str, campaign_id: str, candidates: Sequence[Candidate]
                         ) -> Claimed | Refused:
        """A dial claimed across the cluster (store/dialclaims.py), announced as the target's update and the
        campaigncall's creation."""
        done = await self.store.dialclaims.claim(customer_id, campaign_id, candidates)
        if isinstance(done, Claimed):
            self._emit("outdialtarget_updated", done.target, customer_id)
            self._emit("campaigncall_created", done.call, customer_id)
        return done

    async def update_call(self, customer_id: str, id: str, **changes: Any) -> Campaigncall:
        done = await self.store.campaigncalls.update(customer_id, id, **changes)
        self._emit("campaigncall_updated", done, customer_id)
        return done

    async def delete_call(self, customer_id: str, id: str) -> Campaigncall:
        done = await self.store.campaigncalls.delete(customer_id, id)
        self._emit("campaigncall_deleted", done, customer_id)
        return done

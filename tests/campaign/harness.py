"""Campaign test harness: a store, a FlowService on the real Asterisk, and AMI watching the dialed channels."""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.ari.client import AriClient
from flowengine.campaign.pacing import AsteriskCaps
from flowengine.campaign.service import CampaignService
from flowengine.events import EventBus
from flowengine.flow.aiport import AICalls
from flowengine.flow.callregistry import CallRegistry
from flowengine.flow.context import Observer, Services, ServicesLink
from flowengine.flow.service import FlowService
from flowengine.store import Campaign, Customer, Outdial, Outplan, Store, generate_secret_key
from flowengine.store.notify import NotifyBus
from flowengine.store.outdials import OutdialTarget
from flowengine.store.records import Address
from tests.conftest import Asterisk
from tests.support import Flows

CUSTOMER = "5a1e5000-0000-4000-8000-00000000ca11"
CONTEXT = "flowengine-campaign-test"
KEY = generate_secret_key()


def _when(message: Any) -> float:
    """Asterisk's own time of the event (manager.conf `timestampevents`): two events read together
    from a busy socket would otherwise look simultaneous."""
    return float(message["Timestamp"])


@dataclass
class ChannelLog:
    """Dialed channels (`;1` halves of the Local channels) as AMI reports them: (name, start, end)."""

    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    def on_new(self, message: Any) -> None:
        name = str(message.get("Channel", ""))
        if CONTEXT in name and name.endswith(";1"):
            self.started[name] = _when(message)

    def on_hangup(self, message: Any) -> None:
        name = str(message.get("Channel", ""))
        if name in self.started:
            self.ended[name] = _when(message)

    def dialed(self, prefix: str) -> int:
        return sum(1 for name in self.started if name.startswith(f"Local/{prefix}@"))

    def max_concurrent(self) -> int:
        points = sorted([(t, 1) for t in self.started.values()] + [(t, -1) for t in self.ended.values()],
                        key=lambda p: (p[0], p[1]))
        level = peak = 0
        for _, step in points:
            level += step
            peak = max(peak, level)
        return peak

    def min_spacing(self) -> float:
        starts = sorted(self.started.values())
        return min((b - a for a, b in itertools.pairwise(starts)), default=float("inf"))


@dataclass
class CampaignHarness:
    store: Store
    events: EventBus
    service: CampaignService
    flows: FlowService
    channels: ChannelLog

    async def make(self, targets: list[str], *, actions: list[dict[str, Any]] | None = None,
                   **campaign: Any) -> Campaign:
        plan_fields = {k: campaign.pop(k) for k in list(campaign) if k.startswith(("max_try", "try_", "dial_"))}
        r = self.service.resources
        plan = await r.create_outplan(Outplan(customer_id=CUSTOMER, name="plan",
                                              source=Address(type="tel", target="5550100"), **plan_fields))
        outdial = await r.create_outdial(Outdial(customer_id=CUSTOMER, name="list"))
        for name in targets:
            await r.create_target(OutdialTarget(customer_id=CUSTOMER, outdial_id=outdial.id, name=name,
                                                destination_0=Address(type="extension", target=name)))
        return await r.create_campaign(Campaign(
            customer_id=CUSTOMER, name="test", outplan_id=plan.id, outdial_id=outdial.id,
            actions=actions or [{"type": "sleep", "option": {"duration": 300}}], **campaign))

    async def run_to_end(self, campaign: Campaign, timeout: float = 90) -> Campaign:
        await self.service.set_status(CUSTOMER, campaign.id, "run")
        await asyncio.wait_for(self.service.wait_stopped(campaign.id), timeout)
        return await self.store.campaigns.get(CUSTOMER, campaign.id)

    async def targets(self, campaign: Campaign) -> dict[str, OutdialTarget]:
        return {t.name: t for t in await self.store.outdialtargets.all_of(CUSTOMER, campaign.outdial_id)}


async def open_store(path: Path | str) -> Store:
    """A SQLite file, or the database a URL names (several nodes' stores on one PostgreSQL)."""
    store = await Store.open(path if isinstance(path, str) else f"sqlite+aiosqlite:///{path}", secret_keys=[KEY])
    await store.customers.ensure(Customer(id=CUSTOMER, name="campaigns"))
    return store


@asynccontextmanager
async def campaign_harness(asterisk: Asterisk, ari: AriClient, db: Path | str, *, max_calls: int = 50,
                           max_cps: float = 50.0, observers: Sequence[Observer] = (), ai: AICalls | None = None,
                           link: ServicesLink | None = None,
                           events: EventBus | None = None,
                           bus: bool = False) -> AsyncIterator[CampaignHarness]:
    """`observers` watch the activeflows beside the call registry; `ai` (built on `link`) runs AI actions;
    `bus`: the service hears campaigns set running by other nodes' services on the same database."""
    info = asterisk.info
    ami = AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret)
    await ami.connect()
    log = ChannelLog()
    subs = [ami.subscribe("Newchannel", log.on_new), ami.subscribe("Hangup", log.on_hangup)]
    store = await open_store(db)
    events = events or EventBus()
    link = link or ServicesLink()
    flows = FlowService(link)
    calls = CallRegistry(store, events, flows)  # campaign calls are recorded, as in the engine
    link.bind(Services(ari=ari, ami=ami, flows=Flows(), events=events,
                       endpoints={"extension": f"Local/{{target}}@{CONTEXT}"}, calls=calls, observers=(calls.observe, *observers), ai=ai, start_flow=flows.start_flow,
                       dial_flow=flows.dial_flow))
    notify = NotifyBus(store.db) if bus else None
    service = CampaignService(store, events, flows, AsteriskCaps(max_calls, max_cps), notify)
    try:
        await service.start()
        yield CampaignHarness(store, events, service, flows, log)
    finally:
        await service.aclose()
        if notify is not None:
            await notify.aclose()
        await calls.aclose()
        await flows.aclose()
        await store.aclose()
        for sub in subs:
            sub.close()
        await ami.aclose()

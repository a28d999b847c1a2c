"""Asterisk dies under a running engine and comes back: the calls that vanished meanwhile are settled at
reconnect (status hangup, `failed` by `local`: the engine lost them), not left `progressing` until the next
engine start."""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from flowengine.asterisk.app import AriApp
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import PrivateAsterisk
from flowengine.asterisk.routing import RouteTable
from flowengine.events import Event, EventBus
from flowengine.flow.callregistry import CallRegistry
from flowengine.flow.context import Services, ServicesLink
from flowengine.flow.service import FlowService
from flowengine.store import Customer, Store, generate_secret_key
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.support import Flows, eventually


async def test_calls_lost_with_asterisk_are_hung_up_at_reconnect(tmp_path: Path) -> None:
    instance = PrivateAsterisk(tmp_path / "ast")
    info = await asyncio.to_thread(instance.start)
    client = AriClient(info.ari_url, info.ari_username, info.ari_password, reconnect_min=0.1, reconnect_max=0.5)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}", secret_keys=[generate_secret_key()])
    await store.customers.ensure(Customer(id=ENGINE_CUSTOMER_ID, name="engine"))
    bus = EventBus()
    events: list[Event] = []
    unsubscribe = bus.subscribe(events.append)
    link = ServicesLink()
    service = FlowService(link)
    registry = CallRegistry(store, bus, service)
    flows = Flows()
    flows.add({"id": "main", "actions": [{"type": "answer"}, {"type": "sleep", "option": {"duration": 60000}}]})
    link.bind(Services(ari=client, flows=flows, events=bus, calls=registry, observers=(registry.observe,),
                       start_flow=service.start_flow, dial_flow=service.dial_flow))
    app = AriApp(client, RouteTable(default_flow="main"), service.handle_call)
    client.on_resync(registry.resync)
    try:
        await client.start()
        await client.channels.originate("Local/1000@flowengine-inbound", formats="ulaw")

        async def progressing() -> bool:
            page = await store.calls.list_page(ENGINE_CUSTOMER_ID, page_size=10)
            return len(page.items) == 1 and page.items[0].status == "progressing"
        await eventually(progressing, timeout=15, what="the call answered and recorded")
        [call] = (await store.calls.list_page(ENGINE_CUSTOMER_ID, page_size=10)).items

        # Asterisk dies (no `core stop`: it sends no hangup event for the call)
        os.killpg(info.pid, signal.SIGKILL)
        await asyncio.to_thread(instance.stop)  # reaps it
        await eventually(lambda: not client.connected.is_set(), what="disconnect noticed")
        await asyncio.sleep(0.5)
        assert (await store.calls.get(ENGINE_CUSTOMER_ID, call.id)).status == "progressing"
        await asyncio.to_thread(instance.start)
        await asyncio.wait_for(client.connected.wait(), 15)

        async def hung_up() -> bool:
            return (await store.calls.get(ENGINE_CUSTOMER_ID, call.id)).status == "hangup"
        await eventually(hung_up, timeout=10, what="the lost call hung up at reconnect")
        record = await store.calls.get(ENGINE_CUSTOMER_ID, call.id)
        assert (record.hangup_reason, record.hangup_by) == ("failed", "local")
        assert record.tm_hangup >= record.tm_progressing
        hangups = [e for e in events if e.type == "call_hangup" and e.data["id"] == call.id]
        assert len(hangups) == 1 and hangups[0].data["hangup_reason"] == "failed"
        assert call.id not in registry.live
        await eventually(lambda: not service.runners and not app.calls, what="its activeflow ended")
    finally:
        await app.aclose()
        await service.aclose()
        await registry.aclose()
        unsubscribe()
        await client.aclose()
        await store.aclose()
        await asyncio.to_thread(instance.stop)

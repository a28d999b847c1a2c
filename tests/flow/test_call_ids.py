"""One id per call on the real private Asterisk: the call record's id (a UUID) is what the call's activeflow,
campaigncall and events carry, for inbound calls, calls dialled by flows and campaign calls."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flowengine.config import (
    ApiConfig,
    AsteriskConfig,
    Config,
    OutboundConfig,
    RoutesConfig,
    SpeechConfig,
    StoreConfig,
)
from flowengine.events import Event as BusEvent
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import NIL_ID, generate_secret_key
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.api.conftest import Tenant, new_tenant
from tests.campaign.harness import CONTEXT as CAMPAIGN_CONTEXT
from tests.conftest import Asterisk
from tests.support import eventually

APP = "flowengine-callids"
ADMIN = "callids-admin-key-0123456789abcdef"
MAIN = "id: main\nname: main\nactions:\n  - type: answer\n  - type: sleep\n    option: {duration: 1500}\n"
DIALS = """id: dials
name: dials
actions:
  - type: answer
  - type: call
    option:
      destinations: [{type: tel, target: wait}]
      chained: true
      actions:
        - type: answer
        - type: sleep
          option: {duration: 1000}
  - type: sleep
    option: {duration: 3000}
"""


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@dataclass
class Live:
    engine: Engine
    http: httpx.AsyncClient
    tenant: Tenant
    owner: Tenant  # the engine's own customer: inbound calls routed by the config are its
    events: list[BusEvent]

    async def get(self, path: str, who: Tenant) -> Any:
        r = await self.http.get(path, headers=who.headers)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        r = await self.http.post(path, headers=self.tenant.headers, json=body)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    async def ended_call(self, call_id: str, who: Tenant, timeout: float = 30) -> dict[str, Any]:
        """GET /v1.0/calls/{call_id} until the call is hung up."""
        last: dict[str, Any] = {}
        for _ in range(int(timeout / 0.1)):
            r = await self.http.get(f"/v1.0/calls/{call_id}", headers=who.headers)
            if r.status_code == 200:
                last = r.json()
                if last["status"] == "hangup":
                    return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"call {call_id} never hung up: {last.get('status')}")

    async def inbound(self, flow_id: str) -> str:
        """A Local channel into the engine's Stasis app running `flow_id`; returns its Asterisk channel id
        (Asterisk's uniqueid, not a UUID) once the engine recorded the call."""
        ami = self.engine.ami
        assert ami is not None and self.engine.store is not None
        store = self.engine.store
        known = {c.id for c in (await store.calls.list_page(ENGINE_CUSTOMER_ID, page_size=100)).items}
        result = await ami.originate("Local/wait@flowengine-test", application="Stasis", data=f"{APP},flow={flow_id}",
                                     codecs="ulaw", timeout_ms=10000)
        assert result.success
        for _ in range(200):
            fresh = [c for c in (await store.calls.list_page(ENGINE_CUSTOMER_ID, page_size=100)).items
                     if c.id not in known and c.direction == "incoming"]
            if fresh:
                assert len(fresh) == 1
                return fresh[0].channel_id
            await asyncio.sleep(0.1)
        raise AssertionError("the inbound call was never recorded")

    def naming(self, text: str) -> list[BusEvent]:
        """Events whose body mentions `text` anywhere."""
        return [e for e in self.events if text in json.dumps(dict(e.data), default=str)]


@pytest.fixture
async def live(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Live]:
    config = Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(update={"app": APP}),
        api=ApiConfig(enabled=True, port=0, admin_key=SecretStr(ADMIN)),
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}",
                          secret_key=SecretStr(generate_secret_key())),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        outbound=OutboundConfig(endpoints={"tel": "Local/{target}@flowengine-test",
                                           "extension": f"Local/{{target}}@{CAMPAIGN_CONTEXT}"}),
        flows_dir=str(tmp_path / "flows"), routes=RoutesConfig(default_flow="main"),
    )
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.yaml").write_text(MAIN)
    (tmp_path / "flows" / "dials.yaml").write_text(DIALS)
    engine = Engine(config)
    await engine.start()
    events: list[BusEvent] = []
    unsubscribe = engine.events.subscribe(events.append)
    try:
        assert engine.store is not None and engine.api is not None
        tenant = await new_tenant(engine.store, "A")
        issued = await engine.store.accesskeys.issue(ENGINE_CUSTOMER_ID, name="test key")
        owner = Tenant(ENGINE_CUSTOMER_ID, issued.token.get_secret_value())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}", timeout=30) as http:
            yield Live(engine, http, tenant, owner, events)
    finally:
        unsubscribe()
        await engine.aclose()
    await eventually(lambda: not [c for c in asterisk.channels() if "flowengine-test" in c or CAMPAIGN_CONTEXT in c],
                     timeout=15, what="test channels gone")


async def test_inbound_call_is_known_by_one_uuid(live: Live) -> None:
    channel_id = await live.inbound("main")
    assert not is_uuid(channel_id)  # Asterisk chose it: a uniqueid like 1732190000.45
    assert live.engine.store is not None
    found = await live.engine.store.calls.find_by_channel(ENGINE_CUSTOMER_ID, channel_id)
    assert found is not None and is_uuid(found.id)
    call = await live.ended_call(found.id, live.owner)
    assert call["id"] == found.id and call["direction"] == "incoming" and "channel_id" not in call
    af = await live.get(f"/v1.0/activeflows/{call['activeflow_id']}", live.owner)
    assert af["reference_type"] == "call" and af["reference_id"] == call["id"]
    # the activeflow found by its reference_id resolves to the call, and the flow saw the same id
    stored = await live.engine.store.activeflows.get(ENGINE_CUSTOMER_ID, af["id"])
    assert stored.variables["voipbin.call.id"] == call["id"]
    assert stored.variables["voipbin.activeflow.reference_id"] == call["id"]
    # events carry the call id, never the channel id
    kinds = [e.type for e in live.events if e.type.startswith("call_") and e.data.get("id") == call["id"]]
    assert kinds[0] == "call_created" and kinds[-1] == "call_hangup"
    flows = [e for e in live.events if e.type.startswith("activeflow_") and e.data.get("id") == af["id"]]
    assert flows and all(e.data["reference_id"] == call["id"] for e in flows)
    assert live.naming(channel_id) == []
    # the other customer does not see it
    assert (await live.http.get(f"/v1.0/calls/{call['id']}", headers=live.tenant.headers)).status_code == 404


async def test_call_dialled_by_a_flow_is_known_by_its_reference_id(live: Live) -> None:
    channel_id = await live.inbound("dials")
    assert live.engine.store is not None
    store = live.engine.store
    master = await store.calls.find_by_channel(ENGINE_CUSTOMER_ID, channel_id)
    assert master is not None
    dialled: list[Any] = []

    async def outgoing() -> bool:
        dialled[:] = [c for c in (await store.calls.list_page(ENGINE_CUSTOMER_ID, page_size=100)).items
                      if c.direction == "outgoing"]
        return bool(dialled)

    for _ in range(200):
        if await outgoing():
            break
        await asyncio.sleep(0.1)
    assert len(dialled) == 1, "the flow's call was never recorded"
    call = await live.ended_call(dialled[0].id, live.owner)
    assert is_uuid(call["id"]) and call["activeflow_id"] != NIL_ID and "channel_id" not in call
    assert dialled[0].channel_id == call["id"]  # the engine dialled the channel with the call's id
    af = await live.get(f"/v1.0/activeflows/{call['activeflow_id']}", live.owner)
    assert af["reference_type"] == "call" and af["reference_id"] == call["id"]
    assert af["reference_id"] != master.id
    stored = await store.activeflows.get(ENGINE_CUSTOMER_ID, af["id"])
    assert stored.variables["voipbin.call.id"] == call["id"]
    assert stored.variables["voipbin.call.master_call_id"] == master.id  # the inbound call, by its id
    assert (await live.get(f"/v1.0/calls/{master.id}", live.owner))["id"] == master.id
    kinds = [e.type for e in live.events if e.type.startswith("call_") and e.data.get("id") == call["id"]]
    assert kinds[0] == "call_created" and kinds[-1] == "call_hangup"
    assert live.naming(channel_id) == []


async def test_campaigncall_reference_id_is_the_call_id(live: Live) -> None:
    plan = await live.post("/v1.0/outplans", {
        "name": "plan", "source": {"type": "tel", "target": "5550100"}, "dial_timeout": 3000,
        "try_interval": 200, "max_try_count_0": 1})
    outdial = await live.post("/v1.0/outdials", {"name": "list"})
    await live.post(f"/v1.0/outdials/{outdial['id']}/targets", {
        "name": "talk71", "destination_0": {"type": "extension", "target": "talk71"}})
    campaign = await live.post("/v1.0/campaigns", {
        "name": "ids", "type": "call", "end_handle": "stop", "outplan_id": plan["id"], "outdial_id": outdial["id"],
        "actions": [{"type": "sleep", "option": {"duration": 500}}]})
    r = await live.http.put(f"/v1.0/campaigns/{campaign['id']}/status", headers=live.tenant.headers,
                            json={"status": "run"})
    assert r.status_code == 200, r.text
    calls: list[dict[str, Any]] = []
    for _ in range(300):
        page = await live.get(f"/v1.0/campaigns/{campaign['id']}/campaigncalls?page_size=100", live.tenant)
        calls = page["result"]
        if calls and calls[0]["status"] == "done":
            break
        await asyncio.sleep(0.1)
    assert len(calls) == 1 and calls[0]["status"] == "done", calls
    campaigncall = calls[0]
    assert campaigncall["result"] == "success" and campaigncall["reference_type"] == "call"
    reference_id = campaigncall["reference_id"]
    assert is_uuid(reference_id)
    call = await live.ended_call(reference_id, live.tenant)
    assert call["id"] == reference_id and call["direction"] == "outgoing"
    assert call["customer_id"] == live.tenant.id and call["activeflow_id"] == campaigncall["activeflow_id"]
    af = await live.get(f"/v1.0/activeflows/{campaigncall['activeflow_id']}", live.tenant)
    assert af["reference_type"] == "call" and af["reference_id"] == reference_id
    # the campaigncall's events name the call by the same id
    updates = [e for e in live.events if e.type.startswith("campaigncall_") and e.data.get("id") == campaigncall["id"]]
    assert {e.data["reference_id"] for e in updates} - {NIL_ID, ""} == {reference_id}
    kinds = [e.type for e in live.events if e.type.startswith("call_") and e.data.get("id") == reference_id]
    assert kinds[0] == "call_created" and kinds[-1] == "call_hangup"
    assert (await live.http.get(f"/v1.0/calls/{reference_id}", headers=live.owner.headers)).status_code == 404

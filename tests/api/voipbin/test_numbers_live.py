"""Inbound calls on the real private Asterisk belong to the customer of the dialled number: a number created
through /v1.0/numbers (or a config route naming a customer) runs the call as that customer, whose key lists
the call and its activeflow and whose webhook receives its events; nobody else sees them."""
from __future__ import annotations

import asyncio
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
    NumberRoute,
    RoutesConfig,
    SpeechConfig,
    StoreConfig,
    WebhooksConfig,
)
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import Customer, Store, generate_secret_key
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.api.conftest import Tenant
from tests.api.webhooks.conftest import Receiver, free_port
from tests.conftest import Asterisk
from tests.support import eventually

ADMIN = "numbers-admin-key-0123456789abcdef"
CONFIG_CUSTOMER = "2f7a8b9c-0d1e-4345-8012-345678901234"
MAIN = "id: main\nname: main\nactions:\n  - type: answer\n  - type: sleep\n    option: {duration: 300}\n"
ACTIONS = [{"type": "answer"}, {"type": "sleep", "option": {"duration": 800}}, {"type": "hangup"}]


@dataclass
class Live:
    engine: Engine
    http: httpx.AsyncClient
    tenant: Tenant
    other: Tenant
    owner: Tenant  # the engine's own customer
    configured: Tenant  # the customer a config route names
    hooks: Receiver

    async def calls(self, who: Tenant) -> list[dict[str, Any]]:
        r = await self.http.get("/v1.0/calls", headers=who.headers)
        assert r.status_code == 200, r.text
        result: list[dict[str, Any]] = r.json()["result"]
        return result

    async def ended_call(self, who: Tenant, timeout: float = 30) -> dict[str, Any]:
        """The one call `who` sees, once hung up."""
        last: list[dict[str, Any]] = []
        for _ in range(int(timeout / 0.1)):
            last = await self.calls(who)
            if len(last) == 1 and last[0]["status"] == "hangup":
                return last[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no ended call for {who.id}: {last}")

    async def dial(self, number: str) -> None:
        """A caller dialling `number` through the inbound dialplan (the real route lookup)."""
        ami = self.engine.ami
        assert ami is not None
        result = await ami.originate(f"Local/{number}@flowengine-inbound", application="Wait", data="30",
                                     caller_id="Tester <5550199>", codecs="ulaw", timeout_ms=10000)
        assert result.success


async def tenant_of(engine: Engine, customer: Customer) -> Tenant:
    assert engine.store is not None
    issued = await engine.store.accesskeys.issue(customer.id, name="test key")
    return Tenant(customer.id, issued.token.get_secret_value())


@pytest.fixture
async def live(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Live]:
    hooks = Receiver(free_port())
    await hooks.up()
    store_url = f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}"
    key = generate_secret_key()
    config = Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()),
        api=ApiConfig(enabled=True, port=0, admin_key=SecretStr(ADMIN)),
        store=StoreConfig(url=store_url, secret_key=SecretStr(key)),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        webhooks=WebhooksConfig(backoff_min_s=0.05),
        flows_dir=str(tmp_path / "flows"),
        routes=RoutesConfig(default_flow="main", numbers={
            "+15550177": NumberRoute(flow_id="main", customer_id=CONFIG_CUSTOMER), "15550188": "main"}),
    )
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.yaml").write_text(MAIN)
    # the customer the config names exists before the engine starts (else the start is refused)
    async with await Store.open(store_url, secret_keys=[key]) as store:
        await store.customers.create(Customer(id=CONFIG_CUSTOMER, name="configured"))
    engine = Engine(config)
    await engine.start()
    try:
        store = engine.store
        assert store is not None and engine.api is not None
        tenant = await tenant_of(engine, await store.customers.create(
            Customer(name="A", webhook_uri=hooks.url("A"), webhook_method="POST")))
        other = await tenant_of(engine, await store.customers.create(
            Customer(name="B", webhook_uri=hooks.url("B"), webhook_method="POST")))
        owner = await tenant_of(engine, await store.customers.get(ENGINE_CUSTOMER_ID))
        configured = await tenant_of(engine, await store.customers.get(CONFIG_CUSTOMER))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}", timeout=30) as http:
            yield Live(engine, http, tenant, other, owner, configured, hooks)
    finally:
        await engine.aclose()
        await hooks.down()
    await eventually(lambda: not [c for c in asterisk.channels() if "flowengine-inbound" in c], timeout=15,
                     what="test channels gone")


async def test_a_call_to_a_customers_number_is_that_customers(live: Live) -> None:
    flow = await live.http.post("/v1.0/flows", json={"name": "inbound", "actions": ACTIONS},
                                headers=live.tenant.headers)
    assert flow.status_code == 200, flow.text
    number = await live.http.post("/v1.0/numbers", headers=live.tenant.headers, json={
        "number": "+15550142", "call_flow_id": flow.json()["id"], "name": "support"})
    assert number.status_code == 200, number.text
    await live.dial("+15550142")
    call = await live.ended_call(live.tenant)
    assert call["customer_id"] == live.tenant.id and call["direction"] == "incoming"
    assert call["flow_id"] == flow.json()["id"] and call["destination"]["target"] == "15550142"
    assert call["source"]["target"] == "5550199" and call["hangup_by"] == "local"
    af = await live.http.get(f"/v1.0/activeflows/{call['activeflow_id']}", headers=live.tenant.headers)
    assert af.status_code == 200 and af.json()["customer_id"] == live.tenant.id
    assert af.json()["reference_id"] == call["id"] and af.json()["flow_id"] == flow.json()["id"]
    listed = (await live.http.get("/v1.0/activeflows", headers=live.tenant.headers)).json()["result"]
    assert [a["id"] for a in listed] == [call["activeflow_id"]]
    # nobody else sees it: not the other customer, not the engine's own customer
    for who in (live.other, live.owner):
        assert await live.calls(who) == []
        assert (await live.http.get(f"/v1.0/calls/{call['id']}", headers=who.headers)).status_code == 404
        r = await live.http.get(f"/v1.0/activeflows/{call['activeflow_id']}", headers=who.headers)
        assert r.status_code == 404
    # the customer's webhook receives the call's events, the other customer's none
    await eventually(lambda: "call_hangup" in [h.body["type"] for h in live.hooks.hits if h.path == "A"],
                     timeout=20, what="call_hangup at the customer's webhook")
    kinds = [h.body["type"] for h in live.hooks.hits if h.path == "A" and h.body["data"].get("id") == call["id"]]
    assert kinds[0] == "call_created" and "call_progressing" in kinds and kinds[-1] == "call_hangup"
    assert [h for h in live.hooks.hits if h.path == "B"] == []


async def test_a_config_route_naming_a_customer_runs_the_engines_file_flow_as_that_customer(live: Live) -> None:
    await live.dial("+15550177")
    call = await live.ended_call(live.configured)
    assert call["customer_id"] == CONFIG_CUSTOMER and call["direction"] == "incoming"
    af = (await live.http.get(f"/v1.0/activeflows/{call['activeflow_id']}", headers=live.configured.headers)).json()
    assert af["customer_id"] == CONFIG_CUSTOMER and af["flow_id"] == "main"
    assert await live.calls(live.owner) == [] and await live.calls(live.tenant) == []
    # the short form is still the engine's
    await live.dial("15550188")
    engine_call = await live.ended_call(live.owner)
    assert engine_call["customer_id"] == ENGINE_CUSTOMER_ID and engine_call["destination"]["target"] == "15550188"

"""Campaigns over HTTP on the real private Asterisk: the engine with its API runs, stops and reports campaigns,
and a campaign runs a flow stored through POST /v1.0/flows on its answered calls."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flowengine.config import ApiConfig, AsteriskConfig, Config, OutboundConfig, SpeechConfig, StoreConfig
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import NIL_ID, generate_secret_key
from tests.api.conftest import Tenant, new_tenant
from tests.campaign.harness import CONTEXT
from tests.conftest import Asterisk
from tests.support import eventually

ADMIN = "campaign-admin-key-0123456789abcdef"


@dataclass
class Live:
    engine: Engine
    http: httpx.AsyncClient
    tenant: Tenant
    other: Tenant

    async def get(self, path: str, who: Tenant | None = None) -> Any:
        r = await self.http.get(path, headers=(who or self.tenant).headers)
        assert r.status_code == 200, r.text
        return r.json()

    async def post(self, path: str, body: dict[str, Any], who: Tenant | None = None) -> Any:
        r = await self.http.post(path, headers=(who or self.tenant).headers, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    async def campaign(self, targets: list[str], who: Tenant | None = None, **fields: Any) -> dict[str, Any]:
        """An outplan (one try per target), an outdial with `targets` (extensions in the campaign test
        context), and a stopped campaign using them."""
        plan = await self.post("/v1.0/outplans", {
            "name": "plan", "source": {"type": "tel", "target": "5550100"}, "dial_timeout": 3000,
            "try_interval": 200, "max_try_count_0": 1}, who)
        outdial = await self.post("/v1.0/outdials", {"name": "list"}, who)
        for name in targets:
            await self.post(f"/v1.0/outdials/{outdial['id']}/targets", {
                "name": name, "destination_0": {"type": "extension", "target": name}}, who)
        body = {"name": "over http", "type": "call", "end_handle": "stop", "outplan_id": plan["id"],
                "outdial_id": outdial["id"], "max_concurrent_calls": 2, "calls_per_second": 20, **fields}
        created: dict[str, Any] = await self.post("/v1.0/campaigns", body, who)
        return created

    async def set_status(self, campaign_id: str, status: str, who: Tenant | None = None) -> httpx.Response:
        return await self.http.put(f"/v1.0/campaigns/{campaign_id}/status", headers=(who or self.tenant).headers,
                                   json={"status": status})

    async def calls_of(self, campaign_id: str) -> list[dict[str, Any]]:
        page = await self.get(f"/v1.0/campaigns/{campaign_id}/campaigncalls?page_size=100")
        calls: list[dict[str, Any]] = page["result"]
        return calls

    async def wait_stopped(self, campaign_id: str, timeout: float = 60) -> dict[str, Any]:
        last: dict[str, Any] = {}
        for _ in range(int(timeout / 0.2)):
            last = await self.get(f"/v1.0/campaigns/{campaign_id}")
            if (last["status"], last["execute"]) == ("stop", "stop"):
                return last
            await asyncio.sleep(0.2)
        raise AssertionError(f"campaign {campaign_id} never stopped: {last.get('status')}/{last.get('execute')}")


@pytest.fixture
async def live(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Live]:
    config = Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
            update={"app": "flowengine-campaignapi"}),
        api=ApiConfig(enabled=True, port=0, admin_key=SecretStr(ADMIN)),
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}",
                          secret_key=SecretStr(generate_secret_key())),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        outbound=OutboundConfig(endpoints={"extension": f"Local/{{target}}@{CONTEXT}"}),
        flows_dir=str(tmp_path / "flows"),
    )
    (tmp_path / "flows").mkdir()
    engine = Engine(config)
    await engine.start()
    try:
        assert engine.store is not None and engine.api is not None and engine.campaigns is not None
        tenant = await new_tenant(engine.store, "A")
        other = await new_tenant(engine.store, "B")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}", timeout=30) as http:
            yield Live(engine, http, tenant, other)
    finally:
        await engine.aclose()
    await eventually(lambda: not [c for c in asterisk.channels() if CONTEXT in c], timeout=15,
                     what="campaign test channels gone")


async def test_run_and_stop_over_http_dial_then_drain_and_list_results(live: Live, asterisk: Asterisk) -> None:
    campaign = await live.campaign(["talk41", "talk42", "talk43", "talk44"],
                                   actions=[{"type": "sleep", "option": {"duration": 2500}}])
    cid = campaign["id"]
    # another customer can neither start, stop nor see it
    assert (await live.set_status(cid, "run", live.other)).status_code == 404
    assert (await live.http.get(f"/v1.0/campaigns/{cid}", headers=live.other.headers)).status_code == 404
    running = await live.set_status(cid, "run")
    assert running.status_code == 200, running.text
    assert running.json()["status"] == "run"

    async def two_up() -> bool:
        calls = await live.calls_of(cid)
        return sorted(c["status"] for c in calls) == ["progressing", "progressing"]

    for _ in range(200):
        if await two_up():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the campaign never had two calls up: {await live.calls_of(cid)}")
    assert (await live.set_status(cid, "stop", live.other)).status_code == 404
    stopping = await live.set_status(cid, "stop")
    assert stopping.status_code == 200 and stopping.json()["status"] == "stopping"
    assert len([c for c in asterisk.channels() if CONTEXT in c]) >= 2  # the calls stay up while it drains
    again = await live.set_status(cid, "run")  # a stopping campaign cannot be restarted before it stopped
    assert again.status_code == 400 and again.json()["error"]["field"] == "status"
    done = await live.wait_stopped(cid, timeout=30)
    assert done["execute"] == "stop"
    listed = (await live.get("/v1.0/campaigncalls?page_size=100"))["result"]
    ours = [c for c in listed if c["campaign_id"] == cid]
    assert len(ours) == 2 and len(listed) == 2
    assert [(c["status"], c["result"], c["hangup_reason"], c["reference_type"]) for c in ours] == [
        ("done", "success", "normal", "call")] * 2
    assert all(c["customer_id"] == live.tenant.id for c in ours)
    one = ours[0]
    assert (await live.get(f"/v1.0/campaigncalls/{one['id']}"))["id"] == one["id"]
    assert (await live.http.get(f"/v1.0/campaigncalls/{one['id']}", headers=live.other.headers)).status_code == 404
    assert (await live.get("/v1.0/campaigncalls", live.other))["result"] == []
    targets = (await live.get(f"/v1.0/outdials/{campaign['outdial_id']}/targets"))["result"]
    assert sorted(t["status"] for t in targets) == ["done", "done", "idle", "idle"]  # the rest were never dialed


async def test_a_campaign_runs_a_flow_stored_through_the_api(live: Live) -> None:
    flow = await live.post("/v1.0/flows", {"name": "reminder", "actions": [
        {"type": "variable_set", "option": {"key": "reached", "value": "${campaign.target.name}"}},
        {"type": "talk", "option": {"text": "This is your reminder."}},
        {"type": "sleep", "option": {"duration": 300}}]})
    # another customer's campaign cannot run this customer's flow
    foreign = await live.campaign(["talk51"], live.other, flow_id=flow["id"])
    refused = await live.set_status(foreign["id"], "run", live.other)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "flow_id"
    campaign = await live.campaign(["talk52", "busy52"], flow_id=flow["id"])
    assert campaign["flow_id"] == flow["id"] and campaign["actions"] == []
    assert (await live.set_status(campaign["id"], "run")).status_code == 200
    done = await live.wait_stopped(campaign["id"])  # end_handle stop: it stops by itself when all are tried
    assert done["status"] == "stop"
    calls = await live.calls_of(campaign["id"])
    by_number = {c["destination"]["target"]: c for c in calls}
    assert {n: (c["result"], c["hangup_reason"]) for n, c in by_number.items()} == {
        "talk52": ("success", "normal"), "busy52": ("fail", "busy")}
    answered = by_number["talk52"]
    assert answered["flow_id"] == flow["id"] and answered["activeflow_id"] != NIL_ID
    assert by_number["busy52"]["activeflow_id"] == NIL_ID  # nobody answered: no flow ran
    af = await live.get(f"/v1.0/activeflows/{answered['activeflow_id']}")
    assert af["flow_id"] == flow["id"] and af["customer_id"] == live.tenant.id
    assert af["reference_type"] == "call" and af["reference_id"] == answered["reference_id"]
    assert [a["type"] for a in af["executed_actions"]] == ["variable_set", "talk"]
    assert af["current_action"]["type"] == "sleep"  # the flow ran to its last action
    assert af["status"] == "ended"
    # the call the flow ran on is the customer's, listed under /calls by the campaigncall's reference_id
    listed = (await live.get("/v1.0/calls?page_size=100"))["result"]
    ran_on = [c for c in listed if c["activeflow_id"] == af["id"]]
    assert len(ran_on) == 1 and ran_on[0]["direction"] == "outgoing" and ran_on[0]["id"] == answered["reference_id"]
    assert (await live.get("/v1.0/calls?page_size=100", live.other))["result"] == []
    assert (await live.get(f"/v1.0/campaigns/{foreign['id']}", live.other))["status"] == "stop"

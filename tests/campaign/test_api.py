"""/v1.0 campaigns, outplans, outdials + targets, campaigncalls: VoIPBIN bodies, checks naming the field, tenancy."""
from __future__ import annotations

import httpx

from flowengine.store import NIL_ID
from tests.api.conftest import Tenant

ACTIONS = [{"type": "sleep", "option": {"duration": 100}}]


async def _setup(client: httpx.AsyncClient, tenant: Tenant) -> tuple[str, str]:
    plan = await client.post("/v1.0/outplans", headers=tenant.headers, json={
        "name": "p", "detail": "", "source": {"type": "tel", "target": "5550100"}, "dial_timeout": 20000,
        "try_interval": 1000, "max_try_count_0": 2, "max_try_count_1": 0, "max_try_count_2": 0,
        "max_try_count_3": 0, "max_try_count_4": 0,
        "call_window": {"days": ["mon", "tue"], "start": "09:00", "end": "17:00", "timezone": "Europe/Paris"}})
    assert plan.status_code == 200, plan.text
    outdial = await client.post("/v1.0/outdials", headers=tenant.headers,
                                json={"campaign_id": "", "name": "list", "detail": "", "data": ""})
    assert outdial.status_code == 200, outdial.text
    return plan.json()["id"], outdial.json()["id"]


async def test_campaign_resources_round_trip(client: httpx.AsyncClient, tenant: Tenant, other: Tenant) -> None:
    plan_id, outdial_id = await _setup(client, tenant)
    target = await client.post(f"/v1.0/outdials/{outdial_id}/targets", headers=tenant.headers, json={
        "name": "alice", "detail": "", "data": "", "destination_0": {"type": "tel", "target": "+15550001"},
        "destination_1": None, "destination_2": None, "destination_3": None, "destination_4": None})
    assert target.status_code == 200, target.text
    assert target.json()["status"] == "idle" and target.json()["try_count_0"] == 0
    bad = await client.post(f"/v1.0/outdials/{outdial_id}/targets", headers=tenant.headers,
                            json={"name": "x", "destination_0": {"type": "tel", "target": "12ab"}})
    assert bad.status_code == 400 and "destination_0" in bad.text
    body = {"name": "c", "detail": "", "type": "call", "service_level": 100, "end_handle": "stop",
            "actions": ACTIONS, "outplan_id": plan_id, "outdial_id": outdial_id, "queue_id": NIL_ID,
            "next_campaign_id": NIL_ID}
    created = await client.post("/v1.0/campaigns", headers=tenant.headers, json=body)
    assert created.status_code == 200, created.text
    campaign = created.json()
    assert (campaign["status"], campaign["execute"], campaign["type"]) == ("stop", "stop", "call")
    bad_actions = await client.post("/v1.0/campaigns", headers=tenant.headers,
                                     json={**body, "actions": [{"type": "no_such_action"}]})
    assert bad_actions.status_code == 400 and "actions" in bad_actions.text
    missing = await client.post("/v1.0/campaigns", headers=tenant.headers,
                                json={**body, "outplan_id": "0f0f0f0f-0000-4000-8000-000000000000"})
    assert missing.status_code == 400 and "outplan" in missing.text
    renamed = await client.put(f"/v1.0/campaigns/{campaign['id']}", headers=tenant.headers,
                               json={"name": "renamed", "end_handle": "continue"})
    assert renamed.json()["name"] == "renamed" and renamed.json()["end_handle"] == "continue"
    # no engine behind this API: running is refused clearly, nothing changes
    run = await client.put(f"/v1.0/campaigns/{campaign['id']}/status", headers=tenant.headers, json={"status": "run"})
    assert run.status_code == 503
    assert (await client.get(f"/v1.0/campaigns/{campaign['id']}", headers=tenant.headers)).json()["status"] == "stop"
    calls = await client.get(f"/v1.0/campaigns/{campaign['id']}/campaigncalls", headers=tenant.headers)
    assert calls.status_code == 200 and calls.json()["result"] == []
    targets = await client.get(f"/v1.0/outdials/{outdial_id}/targets", headers=tenant.headers)
    assert [t["name"] for t in targets.json()["result"]] == ["alice"]
    assert (await client.get(f"/v1.0/campaigns/{campaign['id']}", headers=other.headers)).status_code == 404
    assert (await client.get(f"/v1.0/outdials/{outdial_id}/targets", headers=other.headers)).status_code == 404
    deleted = await client.delete(f"/v1.0/campaigns/{campaign['id']}", headers=tenant.headers)
    assert deleted.status_code == 200


async def test_bad_call_window_names_the_field(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1.0/outplans", headers=tenant.headers, json={
        "name": "p", "call_window": {"days": ["someday"], "start": "09:00", "end": "17:00"}})
    assert response.status_code == 400 and "call_window" in response.text


async def test_a_try_interval_past_the_stored_column_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # schemathesis found it: 7975707203669454456094720 reached SQLite and answered 500
    for value in (2**31, 7975707203669454456094720):
        response = await client.post("/v1.0/outplans", headers=tenant.headers, json={"name": "p", "try_interval": value})
        assert response.status_code == 400 and "try_interval" in response.text, response.text
    kept = await client.post("/v1.0/outplans", headers=tenant.headers, json={"name": "p", "try_interval": 2**31 - 1})
    assert kept.status_code == 200 and kept.json()["try_interval"] == 2**31 - 1

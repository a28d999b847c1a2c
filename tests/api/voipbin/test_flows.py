"""/v1.0/flows: CRUD, validation errors naming the field, pagination, tenant isolation."""
from __future__ import annotations

import httpx

from tests.api.conftest import Tenant

ACTIONS = [{"type": "answer"}, {"type": "talk", "option": {"text": "hello"}}, {"type": "hangup"}]


async def test_crud(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post("/v1.0/flows", json={"name": "greet", "detail": "d", "actions": ACTIONS},
                                headers=tenant.headers)
    assert created.status_code == 200, created.text
    flow = created.json()
    assert flow["customer_id"] == tenant.id and flow["name"] == "greet"
    assert [a["type"] for a in flow["actions"]] == ["answer", "talk", "hangup"]
    assert all(a["id"] for a in flow["actions"])
    assert flow["tm_delete"] == "9999-01-01 00:00:00.000000"
    got = await client.get(f"/v1.0/flows/{flow['id']}", headers=tenant.headers)
    assert got.json() == flow
    updated = await client.put(f"/v1.0/flows/{flow['id']}", json={"name": "two", "actions": ACTIONS[:1]},
                               headers=tenant.headers)
    assert updated.status_code == 200 and updated.json()["name"] == "two"
    assert len(updated.json()["actions"]) == 1
    listed = await client.get("/v1.0/flows", headers=tenant.headers)
    assert [f["id"] for f in listed.json()["result"]] == [flow["id"]]
    deleted = await client.delete(f"/v1.0/flows/{flow['id']}", headers=tenant.headers)
    assert deleted.status_code == 200 and deleted.json()["tm_delete"] != "9999-01-01 00:00:00.000000"
    assert (await client.get(f"/v1.0/flows/{flow['id']}", headers=tenant.headers)).status_code == 404
    assert (await client.get("/v1.0/flows", headers=tenant.headers)).json()["result"] == []


async def test_validation_errors_name_the_field(client: httpx.AsyncClient, tenant: Tenant) -> None:
    bad = await client.post("/v1.0/flows", json={"name": "x", "actions": [{"type": "answer"}, {"type": "nope"}]},
                            headers=tenant.headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["field"].startswith("actions[1]")
    missing = await client.post("/v1.0/flows", json={"actions": []}, headers=tenant.headers)
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "name"
    extra = await client.post("/v1.0/flows", json={"name": "x", "actions": [], "colour": "red"},
                              headers=tenant.headers)
    assert extra.status_code == 400 and extra.json()["error"]["field"] == "colour"
    wrong = await client.post("/v1.0/flows", json={"name": "x", "actions": "answer"}, headers=tenant.headers)
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "actions"
    assert (await client.get("/v1.0/flows?page_size=0", headers=tenant.headers)).status_code == 400
    token = await client.get("/v1.0/flows?page_token=garbage", headers=tenant.headers)
    assert token.status_code == 400 and "page_token" in token.json()["error"]["message"]


async def test_pagination(client: httpx.AsyncClient, tenant: Tenant) -> None:
    ids = []
    for n in range(5):
        r = await client.post("/v1.0/flows", json={"name": f"f{n}", "actions": ACTIONS}, headers=tenant.headers)
        ids.append(r.json()["id"])
    seen: list[str] = []
    token = ""
    for _ in range(5):
        page = (await client.get("/v1.0/flows", params={"page_size": 2, "page_token": token},
                                 headers=tenant.headers)).json()
        seen += [f["id"] for f in page["result"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == list(reversed(ids))


async def test_auth(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await client.get("/v1.0/flows")).status_code == 401
    assert (await client.get("/v1.0/flows", headers={"Authorization": "Bearer fe_wrong"})).status_code == 401
    by_query = await client.get("/v1.0/flows", params={"accesskey": tenant.token})
    assert by_query.status_code == 200


async def test_tenant_isolation(client: httpx.AsyncClient, tenant: Tenant, other: Tenant) -> None:
    mine = (await client.post("/v1.0/flows", json={"name": "a", "actions": ACTIONS}, headers=tenant.headers)).json()
    for method in ("GET", "PUT", "DELETE"):
        body = {"name": "hijack", "actions": ACTIONS} if method == "PUT" else None
        r = await client.request(method, f"/v1.0/flows/{mine['id']}", json=body, headers=other.headers)
        assert r.status_code == 404, (method, r.text)
    assert (await client.get("/v1.0/flows", headers=other.headers)).json()["result"] == []
    still = await client.get(f"/v1.0/flows/{mine['id']}", headers=tenant.headers)
    assert still.json()["name"] == "a"
    unknown = await client.get("/v1.0/flows/00000000-0000-4000-8000-000000000001", headers=other.headers)
    assert unknown.json()["error"]["message"].replace("00000000-0000-4000-8000-000000000001", mine["id"]) == \
        (await client.get(f"/v1.0/flows/{mine['id']}", headers=other.headers)).json()["error"]["message"]


async def test_a_flow_naming_an_ai_or_team_the_customer_does_not_have_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, other: Tenant
) -> None:
    async def ai(who: Tenant, name: str) -> str:
        r = await client.post("/v1.0/ais", json={"name": name, "engine_model": "rules.default"}, headers=who.headers)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def talks_to(ai_id: str, kind: str = "ai", action: str = "ai_talk") -> dict[str, object]:
        option = {"assistance_type": kind, "assistance_id": ai_id}
        return {"name": "agent", "actions": [{"type": "answer"}, {"type": action, "option": option}]}

    mine, theirs = await ai(tenant, "mine"), await ai(other, "theirs")
    assert (await client.post("/v1.0/flows", json=talks_to(mine), headers=tenant.headers)).status_code == 200
    for body in (talks_to(theirs), talks_to("00000000-0000-4000-8000-0000000000aa"), talks_to("receptionist"),
                 talks_to(theirs, action="ai_task"), talks_to("desk", kind="team")):
        r = await client.post("/v1.0/flows", json=body, headers=tenant.headers)
        assert r.status_code == 400, body
        error = r.json()["error"]
        assert error["field"] == "actions[1].option.assistance_id" and "does not exist" in error["message"], error
    legacy = {"name": "old", "actions": [{"type": "ai_talk", "option": {"ai_id": theirs}}]}
    r = await client.post("/v1.0/flows", json=legacy, headers=tenant.headers)
    assert r.status_code == 400 and r.json()["error"]["field"] == "actions[0].option.ai_id"
    flow = (await client.post("/v1.0/flows", json=talks_to(mine), headers=tenant.headers)).json()
    changed = await client.put(f"/v1.0/flows/{flow['id']}", json=talks_to(theirs), headers=tenant.headers)
    assert changed.status_code == 400
    member = {"id": "front", "name": "Front", "ai_id": mine}
    team = await client.post("/v1.0/teams", json={"name": "desk", "start_member_id": "front", "members": [member]},
                             headers=tenant.headers)
    assert team.status_code == 200, team.text
    ok = await client.post("/v1.0/flows", json=talks_to(team.json()["id"], kind="team"), headers=tenant.headers)
    assert ok.status_code == 200, ok.text
    refused = await client.post("/v1.0/flows", json=talks_to(team.json()["id"], kind="team"), headers=other.headers)
    assert refused.status_code == 400
    templated = await client.post("/v1.0/flows", json=talks_to("${voipbin.flow.ai}"), headers=tenant.headers)
    assert templated.status_code == 200  # known only when the flow runs

"""Resources without Asterisk: CRUD and validation, tenant isolation (lists, filters, ids from events), ops, CLI."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import httpx

from flowengine.api.deps import ApiDeps
from flowengine.events import Event
from flowengine.store import Activeflow, AIcall, AIMessage, Call, Store, generate_secret_key
from tests.api.conftest import ADMIN_KEY, Tenant

ACTIONS = [{"type": "answer"}, {"type": "hangup"}]
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def events_of(deps: ApiDeps) -> list[Event]:
    seen: list[Event] = []
    deps.events.subscribe(seen.append)
    return seen


async def make_ai(client: httpx.AsyncClient, who: Tenant, name: str = "agent") -> dict[str, Any]:
    r = await client.post("/v1.0/ais", json={"name": name, "engine_model": "rules.default", "engine_key": "sk-secret"},
                          headers=who.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_activeflows_list_get_delete_and_refusals(client: httpx.AsyncClient, store: Store, tenant: Tenant,
                                                        other: Tenant) -> None:
    mine = await store.activeflows.create(Activeflow(customer_id=tenant.id, status="ended", reference_type="api"))
    await store.activeflows.create(Activeflow(customer_id=other.id, status="running", reference_type="api"))
    listed = (await client.get("/v1.0/activeflows", headers=tenant.headers)).json()
    assert [a["id"] for a in listed["result"]] == [mine.id]
    got = (await client.get(f"/v1.0/activeflows/{mine.id}", headers=tenant.headers)).json()
    assert got["status"] == "ended" and "variables" not in got and "stack_map" not in got
    assert (await client.get(f"/v1.0/activeflows/{mine.id}", headers=other.headers)).status_code == 404
    assert (await client.post(f"/v1.0/activeflows/{mine.id}/stop", headers=other.headers)).status_code == 404
    stopped = await client.post(f"/v1.0/activeflows/{mine.id}/stop", headers=tenant.headers)
    assert stopped.status_code == 200 and stopped.json()["status"] == "ended"  # ended: returned unchanged
    paused = await client.post(f"/v1.0/activeflows/{mine.id}/pause", headers=tenant.headers)
    assert paused.status_code == 409
    # no engine behind this API: starting one is refused clearly, bad bodies name the field first
    assert (await client.post("/v1.0/activeflows", json={"actions": ACTIONS}, headers=tenant.headers)).status_code \
        == 503
    bad = await client.post("/v1.0/activeflows", json={"actions": ACTIONS, "variables": {"a": 1}},
                            headers=tenant.headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "variables.a"
    hook = await client.post("/v1.0/activeflows", json={"actions": ACTIONS, "webhook_uri": "ftp://x"},
                             headers=tenant.headers)
    assert hook.status_code == 400 and hook.json()["error"]["field"] == "webhook_uri"
    taken = await client.post("/v1.0/activeflows", json={"id": mine.id, "actions": ACTIONS}, headers=other.headers)
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "id"
    deleted = await client.delete(f"/v1.0/activeflows/{mine.id}", headers=tenant.headers)
    assert deleted.status_code == 200 and deleted.json()["tm_delete"] != "9999-01-01 00:00:00.000000"
    assert (await client.get(f"/v1.0/activeflows/{mine.id}", headers=tenant.headers)).status_code == 404


async def test_teams_crud_validation_and_events(client: httpx.AsyncClient, deps: ApiDeps, tenant: Tenant,
                                                other: Tenant) -> None:
    seen = events_of(deps)
    ai = await make_ai(client, tenant)
    theirs = await make_ai(client, other, "theirs")
    members = [{"id": "front", "name": "Front", "ai_id": ai["id"],
                "transitions": [{"function_name": "to_billing", "description": "billing", "next_member_id": "bill"}]},
               {"id": "bill", "name": "Billing", "ai_id": ai["id"]}]
    body = {"name": "desk", "start_member_id": "front", "members": members}
    created = await client.post("/v1.0/teams", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    team = created.json()
    assert team["customer_id"] == tenant.id and [m["id"] for m in team["members"]] == ["front", "bill"]
    assert (await client.get(f"/v1.0/teams/{team['id']}", headers=tenant.headers)).json() == team
    updated = await client.put(f"/v1.0/teams/{team['id']}", json={**body, "name": "desk 2"}, headers=tenant.headers)
    assert updated.status_code == 200 and updated.json()["name"] == "desk 2"
    for bad, field in [
        ({**body, "start_member_id": "nobody"}, "start_member_id"),
        ({**body, "start_member_id": "bill", "members": [members[1], members[1]]}, "members[1].id"),
        ({**body, "members": [{**members[0], "transitions": [{**members[0]["transitions"][0],
                                                              "next_member_id": "x"}]}]},
         "members[0].transitions[0].next_member_id"),
        ({**body, "members": [{**members[1], "id": "front", "ai_id": theirs["id"]}]}, "members[0].ai_id"),
        ({**body, "members": []}, "members"),
    ]:
        r = await client.post("/v1.0/teams", json=bad, headers=tenant.headers)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (field, r.text)
    assert (await client.get(f"/v1.0/teams/{team['id']}", headers=other.headers)).status_code == 404
    assert (await client.get("/v1.0/teams", headers=other.headers)).json()["result"] == []
    assert (await client.delete(f"/v1.0/teams/{team['id']}", headers=tenant.headers)).status_code == 200
    kinds = [(e.type, e.customer_id) for e in seen if e.type.startswith(("team_", "ai_"))]
    assert kinds == [("ai_created", tenant.id), ("ai_created", other.id), ("team_created", tenant.id),
                     ("team_updated", tenant.id), ("team_deleted", tenant.id)]
    assert all("engine_key" not in e.data for e in seen)


async def test_ai_and_flow_events(client: httpx.AsyncClient, deps: ApiDeps, tenant: Tenant) -> None:
    seen = events_of(deps)
    ai = await make_ai(client, tenant)
    await client.put(f"/v1.0/ais/{ai['id']}", json={"name": "b", "engine_model": "rules.default"},
                     headers=tenant.headers)
    await client.delete(f"/v1.0/ais/{ai['id']}", headers=tenant.headers)
    flow = (await client.post("/v1.0/flows", json={"name": "f", "actions": ACTIONS}, headers=tenant.headers)).json()
    await client.put(f"/v1.0/flows/{flow['id']}", json={"name": "g", "actions": ACTIONS}, headers=tenant.headers)
    await client.delete(f"/v1.0/flows/{flow['id']}", headers=tenant.headers)
    assert [(e.type, e.data["id"]) for e in seen] == [
        ("ai_created", ai["id"]), ("ai_updated", ai["id"]), ("ai_deleted", ai["id"]),
        ("flow_created", flow["id"]), ("flow_updated", flow["id"]), ("flow_deleted", flow["id"])]
    assert all(e.customer_id == tenant.id for e in seen)
    assert all("sk-secret" not in json.dumps(e.data) for e in seen)


async def test_ids_from_events_and_list_filters_stay_with_their_customer(
    client: httpx.AsyncClient, deps: ApiDeps, store: Store, tenant: Tenant, other: Tenant
) -> None:
    seen = events_of(deps)
    await make_ai(client, tenant)
    await client.post("/v1.0/flows", json={"name": "f", "actions": ACTIONS}, headers=tenant.headers)
    aicall = await store.aicalls.create(AIcall(customer_id=tenant.id, status="progressing"))
    await store.aimessages.create(AIMessage(customer_id=tenant.id, aicall_id=aicall.id, role="user", content="hi"))
    call = await store.calls.create(Call(customer_id=tenant.id, direction="incoming", status="progressing"))
    resources = {"ai_created": "ais", "flow_created": "flows"}
    for event in seen:
        path = f"/v1.0/{resources[event.type]}/{event.data['id']}"
        assert (await client.get(path, headers=tenant.headers)).status_code == 200
        for method in ("GET", "DELETE"):
            assert (await client.request(method, path, headers=other.headers)).status_code == 404, path
    for path in (f"/v1.0/aicalls/{aicall.id}", f"/v1.0/calls/{call.id}", f"/v1.0/aicalls/{aicall.id}/terminate",
                 f"/v1.0/calls/{call.id}/hangup", f"/v1.0/aicalls/{aicall.id}/pause"):
        method = "GET" if path.count("/") == 3 else "POST"
        assert (await client.request(method, path, headers=other.headers)).status_code == 404, path
    # filters never reach across customers
    assert (await client.get("/v1.0/aicalls", params={"status": "progressing"}, headers=other.headers)).json() \
        == {"result": [], "next_page_token": ""}
    assert len((await client.get("/v1.0/aicalls", params={"status": "progressing"},
                                 headers=tenant.headers)).json()["result"]) == 1
    assert (await client.get("/v1.0/aicalls", params={"status": "terminated"}, headers=tenant.headers)).json()[
        "result"] == []
    assert (await client.get("/v1.0/calls", params={"direction": "incoming"}, headers=other.headers)).json()[
        "result"] == []
    assert (await client.get("/v1.0/calls", params={"status": "progressing"}, headers=tenant.headers)).json()[
        "result"][0]["id"] == call.id
    assert (await client.get("/v1.0/aimessages", params={"aicall_id": aicall.id},
                             headers=other.headers)).status_code == 404
    messages = (await client.get("/v1.0/aimessages", params={"aicall_id": aicall.id}, headers=tenant.headers)).json()
    assert [m["content"] for m in messages["result"]] == ["hi"]
    message_id = messages["result"][0]["id"]
    assert (await client.get(f"/v1.0/aimessages/{message_id}", headers=other.headers)).status_code == 404
    assert (await client.get(f"/v1.0/aimessages/{message_id}", headers=tenant.headers)).status_code == 200
    assert (await client.get("/v1.0/calls", params={"status": "nope"}, headers=tenant.headers)).status_code == 400


async def test_aicalls_and_aimessages_without_an_engine(client: httpx.AsyncClient, store: Store,
                                                        tenant: Tenant) -> None:
    ai = await make_ai(client, tenant)
    wrong = await client.post("/v1.0/aicalls", json={"assistance_id": ai["id"], "reference_type": "call"},
                              headers=tenant.headers)
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "reference_type"
    missing = await client.post("/v1.0/aicalls", json={"assistance_id": ai["id"]}, headers=tenant.headers)
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "reference_type"
    no_engine = await client.post("/v1.0/aicalls", json={"assistance_id": ai["id"], "reference_type": "conversation"},
                                  headers=tenant.headers)
    assert no_engine.status_code == 503
    ended = await store.aicalls.create(AIcall(customer_id=tenant.id, status="terminated"))
    assert (await client.post(f"/v1.0/aicalls/{ended.id}/terminate", headers=tenant.headers)).json()["status"] \
        == "terminated"
    sent = await client.post("/v1.0/aimessages", json={"aicall_id": ended.id, "content": "hello"},
                             headers=tenant.headers)
    assert sent.status_code == 409
    empty = await client.post("/v1.0/aimessages", json={"aicall_id": ended.id, "content": ""}, headers=tenant.headers)
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "content"
    deleted = await client.delete(f"/v1.0/aicalls/{ended.id}", headers=tenant.headers)
    assert deleted.status_code == 200
    assert (await client.get(f"/v1.0/aicalls/{ended.id}", headers=tenant.headers)).status_code == 404
    # calls need Asterisk: a clear 503, not a silent nothing
    dial = await client.post("/v1.0/calls", json={"destinations": [{"type": "tel", "target": "1"}],
                                                  "actions": ACTIONS}, headers=tenant.headers)
    assert dial.status_code == 503


async def test_customers_and_accesskeys_for_the_admin(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await client.get("/v1.0/customers", headers=tenant.headers)).status_code == 403
    assert (await client.get("/v1.0/flows", headers=ADMIN)).status_code == 403
    created = await client.post("/v1.0/customers", json={"name": "C", "webhook_uri": "https://example.test/hook",
                                                         "webhook_secret": "s3cret"}, headers=ADMIN)
    assert created.status_code == 200, created.text
    customer = created.json()
    assert "webhook_secret" not in customer and "s3cret" not in created.text
    assert (await client.get(f"/v1.0/customers/{customer['id']}", headers=ADMIN)).json()["name"] == "C"
    updated = await client.put(f"/v1.0/customers/{customer['id']}", json={"name": "C2"}, headers=ADMIN)
    assert updated.status_code == 200 and updated.json()["name"] == "C2"
    bad = await client.post("/v1.0/customers", json={"name": "x", "webhook_uri": "not a url"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "webhook_uri"
    issued = await client.post("/v1.0/accesskeys", json={"customer_id": customer["id"], "name": "k"}, headers=ADMIN)
    assert issued.status_code == 200
    token = issued.json()["token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1.0/flows", headers=mine)).status_code == 200
    keys = (await client.get("/v1.0/accesskeys", params={"customer_id": customer["id"]}, headers=ADMIN)).json()
    assert [k["id"] for k in keys["result"]] == [issued.json()["id"]] and token not in json.dumps(keys)
    unknown = await client.post("/v1.0/accesskeys", json={"customer_id": "00000000-0000-4000-8000-000000000009"},
                                headers=ADMIN)
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "customer_id"
    revoked = await client.delete(f"/v1.0/accesskeys/{issued.json()['id']}", params={"customer_id": customer["id"]},
                                  headers=ADMIN)
    assert revoked.status_code == 200
    assert (await client.get("/v1.0/flows", headers=mine)).status_code == 401
    assert (await client.delete(f"/v1.0/customers/{customer['id']}", headers=ADMIN)).status_code == 200
    assert (await client.get(f"/v1.0/customers/{customer['id']}", headers=ADMIN)).status_code == 404


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "store": "ok", "asterisk": "not used", "problems": []}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    for name in ("flowengine_active_calls", "flowengine_aicalls", "flowengine_webhook_failures"):
        assert f"# TYPE {name}" in text, name
    assert "flowengine_active_calls 0.0" in text
    assert 'flowengine_rtp_dropped_packets_total{cause="stray_ssrc",direction="rx"}' in text


def cli(argv: list[str]) -> tuple[int, str]:
    from flowengine.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def test_cli_customers_keys_openapi(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text(f"store:\n  url: sqlite+aiosqlite:///{tmp_path / 'cli.db'}\n  secret_key: {generate_secret_key()}\n")
    code, out = cli(["customers", "--config", str(config), "create", "Acme", "--webhook-secret", "hush"])
    assert code == 0 and "hush" not in out
    customer = json.loads(out)
    code, out = cli(["customers", "--config", str(config), "list"])
    assert code == 0 and customer["id"] in out
    code, out = cli(["keys", "--config", str(config), "create", customer["id"], "--name", "ci"])
    assert code == 0
    key = json.loads(out)
    assert key["token"] and key["customer_id"] == customer["id"]
    code, out = cli(["keys", "--config", str(config), "list", customer["id"]])
    assert code == 0 and key["id"] in out and key["token"] not in out
    code, out = cli(["keys", "--config", str(config), "revoke", customer["id"], key["id"]])
    assert code == 0 and json.loads(out)["tm_delete"] != "9999-01-01 00:00:00.000000"
    code, _ = cli(["keys", "--config", str(config), "create", "00000000-0000-4000-8000-000000000009"])
    assert code == 1
    code, out = cli(["openapi"])
    doc = json.loads(out)
    assert code == 0 and "/v1.0/calls" in doc["paths"] and "/v1.0/calls/{id}/mute" in doc["paths"]
    assert set(doc["paths"]["/v1.0/calls/{id}/hold"]) == {"post", "delete"}

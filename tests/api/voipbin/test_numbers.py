"""/v1.0/numbers: CRUD in VoIPBIN's shape, call_flow_id one of the customer's flows, a number unique across
customers, tenant isolation."""
from __future__ import annotations

import random
from typing import Any

import httpx

from tests.api.conftest import Tenant

ACTIONS = [{"type": "answer"}, {"type": "hangup"}]
NIL = "00000000-0000-0000-0000-000000000000"


def fresh() -> str:
    """A number no other test holds (the tests share one database per backend)."""
    return f"+1555{random.randrange(10**8):08d}"


async def new_flow(client: httpx.AsyncClient, who: Tenant) -> str:
    r = await client.post("/v1.0/flows", json={"name": "in", "actions": ACTIONS}, headers=who.headers)
    assert r.status_code == 200, r.text
    flow_id: str = r.json()["id"]
    return flow_id


async def test_crud_in_voipbins_shape(client: httpx.AsyncClient, tenant: Tenant, other: Tenant) -> None:
    n = fresh()
    flow, second = await new_flow(client, tenant), await new_flow(client, tenant)
    created = await client.post("/v1.0/numbers", headers=tenant.headers, json={
        "number": n, "call_flow_id": flow, "name": "main line", "detail": "support"})
    assert created.status_code == 200, created.text
    number: dict[str, Any] = created.json()
    assert number["customer_id"] == tenant.id and number["number"] == n
    assert number["call_flow_id"] == flow and number["message_flow_id"] == NIL
    assert number["type"] == "normal" and number["status"] == "active" and number["name"] == "main line"
    assert number["tm_purchase"] != "9999-01-01 00:00:00.000000"
    assert (await client.get(f"/v1.0/numbers/{number['id']}", headers=tenant.headers)).json() == number
    listed = (await client.get("/v1.0/numbers", headers=tenant.headers)).json()["result"]
    assert [n["id"] for n in listed] == [number["id"]]
    updated = await client.put(f"/v1.0/numbers/{number['id']}", headers=tenant.headers, json={
        "call_flow_id": second, "message_flow_id": NIL, "name": "renamed", "detail": ""})
    assert updated.status_code == 200 and updated.json()["call_flow_id"] == second
    assert updated.json()["name"] == "renamed" and updated.json()["number"] == n
    back = await client.put(f"/v1.0/numbers/{number['id']}/flow_ids", headers=tenant.headers,
                            json={"call_flow_id": flow, "message_flow_id": NIL})
    assert back.status_code == 200 and back.json()["call_flow_id"] == flow
    # another customer sees nothing of it
    assert (await client.get(f"/v1.0/numbers/{number['id']}", headers=other.headers)).status_code == 404
    assert (await client.get("/v1.0/numbers", headers=other.headers)).json()["result"] == []
    assert (await client.delete(f"/v1.0/numbers/{number['id']}", headers=other.headers)).status_code == 404
    deleted = await client.delete(f"/v1.0/numbers/{number['id']}", headers=tenant.headers)
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert (await client.get(f"/v1.0/numbers/{number['id']}", headers=tenant.headers)).status_code == 404


async def test_call_flow_id_must_be_one_of_the_customers_flows(client: httpx.AsyncClient, tenant: Tenant,
                                                               other: Tenant) -> None:
    n = fresh()
    theirs = await new_flow(client, other)
    for flow_id in (theirs, "6f7a8b9c-0d1e-4345-8012-345678901234", "main"):
        r = await client.post("/v1.0/numbers", headers=tenant.headers,
                              json={"number": n, "call_flow_id": flow_id})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["field"] == "call_flow_id"
    mine = await new_flow(client, tenant)
    bad_message = await client.post("/v1.0/numbers", headers=tenant.headers, json={
        "number": n, "call_flow_id": mine, "message_flow_id": theirs})
    assert bad_message.status_code == 400 and bad_message.json()["error"]["field"] == "message_flow_id"
    created = await client.post("/v1.0/numbers", headers=tenant.headers,
                                json={"number": n, "call_flow_id": mine})
    assert created.status_code == 200
    refused = await client.put(f"/v1.0/numbers/{created.json()['id']}", headers=tenant.headers,
                               json={"call_flow_id": theirs})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "call_flow_id"


async def test_a_number_belongs_to_one_customer_at_a_time(client: httpx.AsyncClient, tenant: Tenant,
                                                          other: Tenant) -> None:
    n = fresh()
    mine, theirs = await new_flow(client, tenant), await new_flow(client, other)
    first = await client.post("/v1.0/numbers", headers=tenant.headers,
                              json={"number": n, "call_flow_id": mine})
    assert first.status_code == 200
    taken = await client.post("/v1.0/numbers", headers=other.headers,
                              json={"number": n, "call_flow_id": theirs})
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "number"
    await client.delete(f"/v1.0/numbers/{first.json()['id']}", headers=tenant.headers)
    again = await client.post("/v1.0/numbers", headers=other.headers,
                              json={"number": n, "call_flow_id": theirs})
    assert again.status_code == 200 and again.json()["customer_id"] == other.id


async def test_a_number_is_e164(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await new_flow(client, tenant)
    for number in ("15550100", "+1 555", "sip:me", ""):
        r = await client.post("/v1.0/numbers", headers=tenant.headers, json={"number": number, "call_flow_id": flow})
        assert r.status_code == 400 and r.json()["error"]["field"] == "number", (number, r.text)

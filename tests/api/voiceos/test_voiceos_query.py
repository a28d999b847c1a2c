"""VoiceOS list queries: every bad query value is VoiceOS's 422 HTTPValidationError naming ["query", name] while
the /v1.0 API keeps its 400 ErrorResponse; the filters on stored conversations and agents."""
from __future__ import annotations

import httpx
import jsonschema
import pytest

from flowengine.store import Store
from flowengine.store.frontdoor import Agent, FrontCall
from flowengine.store.records import new_id
from tests.api.conftest import Tenant
from tests.store.conftest import FrozenClock

BAD = {
    "/agents": [("index", "-1"), ("index", "first"), ("limit", "0"), ("limit", "101"), ("limit", "1.5"),
                ("created_after", "yesterday"), ("created_before", "2024-02-30T00:00:00Z"),
                ("created_after", "0001-01-01T00:00:00+01:00")],
    "/conversations": [("status", "ringing"), ("index", "-1"), ("index", "x"), ("limit", "0"), ("limit", "101"),
                       ("limit", "ten"), ("created_after", "2024-03-01T25:00:00"), ("created_before", "tomorrow")],
}
CASES = [(path, name, value) for path, bad in BAD.items() for name, value in bad]


@pytest.mark.parametrize(("path", "name", "value"), CASES)
async def test_every_bad_query_value_is_a_422_naming_it(client: httpx.AsyncClient, tenant: Tenant, path: str,
                                                        name: str, value: str) -> None:
    reply = await client.get(path, params={name: value}, headers=tenant.headers)
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert [e["loc"] for e in detail] == [["query", name]]
    assert set(detail[0]) == {"loc", "msg", "type"} and detail[0]["msg"] and detail[0]["type"]


async def test_each_error_of_a_query_is_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    reply = await client.get("/conversations", params={"status": "done", "limit": "0", "index": "-2"},
                             headers=tenant.headers)
    assert reply.status_code == 422
    assert sorted(e["loc"][1] for e in reply.json()["detail"]) == ["index", "limit", "status"]


async def test_the_voipbin_routes_keep_their_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for path in ("/v1.0/calls", "/v1.0/ais"):
        reply = await client.get(path, params={"page_size": "many"}, headers=tenant.headers)
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert reply.json()["error"]["field"] == "page_size"


async def test_a_body_that_is_not_json_is_a_422_too(client: httpx.AsyncClient, tenant: Tenant) -> None:
    reply = await client.post("/agents", content=b"{not json", headers={**tenant.headers,
                                                                         "Content-Type": "application/json"})
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"][0] == "body"


async def test_list_filters_on_stored_conversations_and_agents(client: httpx.AsyncClient, tenant: Tenant,
                                                               other: Tenant,
                                                               frozen: tuple[Store, FrozenClock]) -> None:
    store, clock = frozen
    ended = await store.frontcalls.create(FrontCall(customer_id=tenant.id, kind="voiceos", status="ended"))
    agent = await store.agents.create(Agent(customer_id=tenant.id, ai_id=new_id(), config={"prompt": "p"}))
    clock.advance(hours=1)
    ringing = await store.frontcalls.create(FrontCall(customer_id=tenant.id, kind="voiceos", status="ringing"))
    await store.frontcalls.create(FrontCall(customer_id=tenant.id, kind="vapi", status="ended"))
    await store.frontcalls.create(FrontCall(customer_id=other.id, kind="voiceos", status="ended"))

    async def ids(path: str, **query: str) -> list[str]:
        reply = await client.get(path, params=query, headers=tenant.headers)
        assert reply.status_code == 200, reply.text
        return [item["id"] for item in reply.json()["items"]]

    assert await ids("/conversations") == [ringing.id, ended.id]
    assert await ids("/conversations", status="ended") == [ended.id]
    assert await ids("/conversations", status="queued") == [ringing.id]  # ringing shows as queued
    assert await ids("/conversations", created_after="2024-03-01T10:30:00") == [ringing.id]  # no zone: UTC
    assert await ids("/conversations", created_before="2024-03-01T12:30:00+02:00") == [ended.id]
    assert await ids("/conversations", limit="1", index="1") == [ended.id]
    assert await ids("/agents", created_after="2024-03-01T09:00:00Z") == [agent.id]
    assert await ids("/agents", created_before="2024-03-01T09:00:00Z") == []


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/agents/{id}"), ("PATCH", "/agents/{id}"), ("DELETE", "/agents/{id}"),
    ("GET", "/conversations/{id}"), ("GET", "/conversations/{id}/recording")])
async def test_a_404_body_is_the_one_the_engines_openapi_declares(client: httpx.AsyncClient, tenant: Tenant,
                                                                   method: str, path: str) -> None:
    document = (await client.get("/openapi.json")).json()
    declared = document["paths"][path][method.lower()]["responses"]["404"]["content"]["application/json"]["schema"]
    reply = await client.request(method, path.format(id=new_id()), headers=tenant.headers,
                                 json={} if method == "PATCH" else None)
    assert reply.status_code == 404, reply.text
    jsonschema.validate(reply.json(), {**declared, "components": document["components"]},
                        format_checker=jsonschema.FormatChecker())
    assert reply.json() == {"detail": f"{path.split('/')[1][:-1]} not found"}  # VoiceOS's (FastAPI's) own shape

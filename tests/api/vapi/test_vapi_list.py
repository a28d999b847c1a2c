"""Vapi's GET /call filters (id, assistantId, createdAt*/updatedAt* bounds, limit) on stored calls, their 400s,
and other customers' calls staying invisible."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flowengine.store import Store
from flowengine.store.frontdoor import FrontCall
from flowengine.store.records import new_id
from tests.api.conftest import Tenant
from tests.store.conftest import FrozenClock

T0 = "2024-03-01T10:00:00"


@dataclass
class Calls:
    a1: str  # assistant X, 10:00, updated 14:00
    a2: str  # assistant Y, 11:00
    a3: str  # assistant X with overrides (runs a copy), 12:00
    a4: str  # transient assistant, 13:00
    conversation: str  # a VoiceOS conversation of the same customer, 12:30
    b1: str  # the other customer's, assistant X, 11:00
    x: str
    y: str


def vapi_call(customer: str, body: dict[str, Any], ai_id: str) -> FrontCall:
    return FrontCall(customer_id=customer, kind="vapi", ai_id=ai_id, to_number="+15550100",
                     config={"customer": {"number": "+15550100"}, **body})


@pytest.fixture
async def calls(frozen: tuple[Store, FrozenClock], tenant: Tenant, other: Tenant) -> Calls:
    store, clock = frozen
    x, y = new_id(), new_id()
    create = store.frontcalls.create
    a1 = await create(vapi_call(tenant.id, {"assistantId": x}, x))
    clock.advance(hours=1)
    a2 = await create(vapi_call(tenant.id, {"assistantId": y}, y))
    b1 = await create(vapi_call(other.id, {"assistantId": x}, x))
    clock.advance(hours=1)
    a3 = await create(vapi_call(tenant.id, {"assistantId": x, "assistantOverrides": {"firstMessage": "Hi"}},
                                new_id()))
    clock.advance(minutes=30)
    conversation = await create(FrontCall(customer_id=tenant.id, kind="voiceos", ai_id=x, config={"_agent_id": x}))
    clock.advance(minutes=30)
    a4 = await create(vapi_call(tenant.id, {"assistant": {"name": "transient"}}, new_id()))
    clock.advance(hours=1)
    await store.frontcalls.update(tenant.id, a1.id, status="ended", ended_reason="customer-ended-call")
    return Calls(a1.id, a2.id, a3.id, a4.id, conversation.id, b1.id, x, y)


async def listed(client: httpx.AsyncClient, who: Tenant, **query: Any) -> list[str]:
    reply = await client.get("/call", params=query, headers=who.headers)
    assert reply.status_code == 200, reply.text
    return [c["id"] for c in reply.json()]


async def test_every_filter_alone(client: httpx.AsyncClient, tenant: Tenant, calls: Calls) -> None:
    c = calls
    assert await listed(client, tenant) == [c.a4, c.a3, c.a2, c.a1]  # newest first, no conversation
    assert await listed(client, tenant, limit=2) == [c.a4, c.a3]
    assert await listed(client, tenant, limit="3.0") == [c.a4, c.a3, c.a2]
    assert await listed(client, tenant, id=c.a2) == [c.a2]
    assert await listed(client, tenant, id=c.a2.upper()) == [c.a2]
    assert await listed(client, tenant, assistantId=c.x) == [c.a3, c.a1]  # a3 ran a copy of x
    assert await listed(client, tenant, assistantId=c.y) == [c.a2]
    assert await listed(client, tenant, assistantId=new_id()) == []
    assert await listed(client, tenant, createdAtGt="2024-03-01T11:00:00Z") == [c.a4, c.a3]
    assert await listed(client, tenant, createdAtGe="2024-03-01T11:00:00Z") == [c.a4, c.a3, c.a2]
    assert await listed(client, tenant, createdAtLt="2024-03-01T11:00:00.000Z") == [c.a1]
    assert await listed(client, tenant, createdAtLe="2024-03-01T11:00:00Z") == [c.a2, c.a1]
    assert await listed(client, tenant, createdAtGe="2024-03-01T13:00:00+02:00") == [c.a4, c.a3, c.a2]  # 11:00 UTC
    assert await listed(client, tenant, createdAtLe="2024-03-01T10:00:00") == [c.a1]  # no zone: UTC
    # updatedAt: a1 was updated at 14:00, the others never (their updatedAt is their createdAt)
    assert await listed(client, tenant, updatedAtGt="2024-03-01T13:00:00Z") == [c.a1]
    assert await listed(client, tenant, updatedAtGe="2024-03-01T13:00:00Z") == [c.a4, c.a1]
    assert await listed(client, tenant, updatedAtLt="2024-03-01T13:00:00Z") == [c.a3, c.a2]
    assert await listed(client, tenant, updatedAtLe="2024-03-01T11:00:00Z") == [c.a2]


async def test_filters_combine_and_views_show_the_times_filtered_on(client: httpx.AsyncClient, tenant: Tenant,
                                                                    calls: Calls) -> None:
    c = calls
    assert await listed(client, tenant, assistantId=c.x, createdAtLt="2024-03-01T13:00:00Z",
                        updatedAtLt="2024-03-01T14:00:00Z") == [c.a3]  # a1 was updated at 14:00
    assert await listed(client, tenant, assistantId=c.x, updatedAtGe="2024-03-01T14:00:00Z") == [c.a1]
    assert await listed(client, tenant, createdAtGe="2024-03-01T11:00:00Z", createdAtLt="2024-03-01T13:00:00Z",
                        limit=1) == [c.a3]
    assert await listed(client, tenant, id=c.a1, assistantId=c.y) == []
    assert await listed(client, tenant, id=c.a1, createdAtGt="2024-03-01T10:00:00Z") == []
    views = {v["id"]: v for v in (await client.get("/call", headers=tenant.headers)).json()}
    assert views[c.a2]["createdAt"] == views[c.a2]["updatedAt"] == "2024-03-01T11:00:00.000Z"
    assert views[c.a1]["updatedAt"] == "2024-03-01T14:00:00.000Z" and views[c.a1]["status"] == "ended"
    assert views[c.a1]["assistantId"] == c.x and "assistantId" not in views[c.a4]


async def test_other_customers_calls_and_conversations_stay_invisible(client: httpx.AsyncClient, tenant: Tenant,
                                                                     other: Tenant, calls: Calls) -> None:
    c = calls
    assert await listed(client, other) == [c.b1]
    assert await listed(client, other, assistantId=c.x) == [c.b1]
    assert await listed(client, tenant, id=c.b1) == []
    assert await listed(client, other, id=c.a1) == []
    assert await listed(client, tenant, id=c.conversation) == []  # a VoiceOS conversation is no Vapi call
    assert await listed(client, tenant, id="not-a-call-id") == []
    assert await listed(client, other, createdAtGe=T0 + "Z", createdAtLe="2024-03-01T12:00:00Z") == [c.b1]


@pytest.mark.parametrize(("name", "value"), [
    ("createdAtGt", "yesterday"), ("createdAtLt", "2024-13-01T00:00:00Z"), ("createdAtGe", "2024-03-01T25:00:00"),
    ("createdAtLe", "0001-01-01T00:00:00+01:00"), ("updatedAtGt", "soon"), ("updatedAtLt", "2024-03-01T10:00:00+25:00"),
    ("updatedAtGe", "[]"), ("updatedAtLe", "9999-12-31T23:59:59-01:00"),
    ("limit", "0"), ("limit", "1001"), ("limit", "2.5"), ("limit", "ten"), ("limit", "nan"),
    ("phoneNumberId", "3f1b2c4d-0000-4000-8000-000000000001"),
])
async def test_bad_values_are_400s_naming_the_parameter(client: httpx.AsyncClient, tenant: Tenant, name: str,
                                                        value: str) -> None:
    reply = await client.get("/call", params={name: value}, headers=tenant.headers)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["field"] == name
    assert error["message"].startswith(f"{name}: ")
    if name == "phoneNumberId":
        assert "stored phone numbers are not supported" in error["message"]

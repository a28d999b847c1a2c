"""/v1.0/aisummaries: a summary of an ended call's stored AI call transcript written by the AI's model (a local
OpenAI-compatible server), idempotence, refusals naming the field, soft delete, and tenant isolation."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from flowengine.api.deps import ApiDeps
from flowengine.events import Event
from flowengine.store import AI, NIL_ID, NOT_YET, Activeflow, AIcall, AIMessage, Call, Store, format_timestamp
from tests.api.conftest import Tenant
from tests.fakes.openai_server import FakeOpenAIServer, Reply

VOIPBIN_FIELDS = {"id", "customer_id", "activeflow_id", "on_end_flow_id", "reference_type", "reference_id", "status",
                  "language", "content", "tm_create", "tm_update", "tm_delete"}


def events_of(deps: ApiDeps) -> list[Event]:
    seen: list[Event] = []
    deps.events.subscribe(seen.append)
    return seen


def body(call_id: str, **changes: Any) -> dict[str, Any]:
    return {"on_end_flow_id": "", "reference_type": "call", "reference_id": call_id, "language": "en-US", **changes}


async def ended_call(store: Store, who: Tenant, *, status: str = "hangup") -> Call:
    """A call of `who` whose flow set a variable, as the engine leaves it in the store."""
    flow_run = await store.activeflows.create(Activeflow(customer_id=who.id, status="ended", reference_type="call",
                                                         variables={"office": "Bright Smile"}))
    return await store.calls.create(Call(customer_id=who.id, direction="incoming", status=status,
                                         activeflow_id=flow_run.id, channel_id="1700000000.7"))


async def talked(store: Store, who: Tenant, call: Call, *lines: tuple[str, str]) -> AI:
    """An AI call on `call` (referencing it by its channel, as an older engine did) and its transcript."""
    ai = await store.ais.create(AI(customer_id=who.id, name="agent", engine_model="openai.gpt-test"),
                                engine_key="sk-tenant-key")
    aicall = await store.aicalls.create(AIcall(customer_id=who.id, assistance_type="ai", assistance_id=ai.id,
                                               reference_type="call", reference_id=call.channel_id,
                                               activeflow_id=call.activeflow_id, status="terminated"))
    for role, text in lines:
        await store.aimessages.create(AIMessage(customer_id=who.id, aicall_id=aicall.id, active_ai_id=ai.id,
                                                role=role, content=text,
                                                direction="incoming" if role == "assistant" else "outgoing"))
    return ai


async def written(client: httpx.AsyncClient, who: Tenant, summary_id: str) -> dict[str, Any]:
    """The summary once it is `done` (polled: at most 200 times, 10 s)."""
    found: dict[str, Any] = {}
    for _ in range(200):
        found = (await client.get(f"/v1.0/aisummaries/{summary_id}", headers=who.headers)).json()
        if found.get("status") == "done":
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"summary {summary_id} not written: {found}")


async def test_post_summarises_an_ended_calls_transcript_once(
    client: httpx.AsyncClient, deps: ApiDeps, store: Store, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = events_of(deps)
    call = await ended_call(store, tenant)
    await talked(store, tenant, call, ("system", "You book appointments."), ("assistant", "Which day?"),
                 ("user", "Friday please."), ("assistant", "Friday is booked."))
    async with FakeOpenAIServer() as server:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", server.base_url)
        server.script(Reply(text="The caller booked Friday."))
        r = await client.post("/v1.0/aisummaries", json=body(call.id), headers=tenant.headers)
        assert r.status_code == 200, r.text
        made = r.json()
        assert set(made) == VOIPBIN_FIELDS | {"error"}
        assert made["status"] == "progressing" and made["reference_type"] == "call"
        assert (made["reference_id"], made["activeflow_id"], made["customer_id"]) == (call.id, call.activeflow_id,
                                                                                      tenant.id)
        assert made["on_end_flow_id"] == NIL_ID and made["tm_delete"] == format_timestamp(NOT_YET)
        done = await written(client, tenant, made["id"])
        await deps.tasks.aclose(timeout=10)
    assert done["content"] == "The caller booked Friday." and done["error"] == ""
    request = server.requests[-1]
    assert request.headers.get("Authorization") == "Bearer sk-tenant-key"  # the AI's own key
    messages = request.body["messages"]
    assert "en-US" in messages[0]["content"]
    assert "AI: Which day?\nUser: Friday please.\nAI: Friday is booked." in messages[-1]["content"]
    assert "Bright Smile" in messages[-1]["content"] and "You book appointments" not in messages[-1]["content"]
    kinds = [(e.type, e.customer_id, e.data["status"]) for e in seen if e.type.startswith("summary_")]
    assert kinds == [("summary_created", tenant.id, "progressing"), ("summary_updated", tenant.id, "done")]
    assert next(e for e in seen if e.type == "summary_updated").data == done
    # one summary per call and language: asking again gives the same one and writes nothing
    again = await client.post("/v1.0/aisummaries", json=body(call.id, on_end_flow_id=""), headers=tenant.headers)
    assert again.status_code == 200 and again.json() == done
    listed = (await client.get("/v1.0/aisummaries", headers=tenant.headers)).json()
    assert [s["id"] for s in listed["result"]] == [made["id"]] and listed["next_page_token"] == ""
    assert len([e for e in seen if e.type == "summary_created"]) == 1


async def test_a_call_without_ai_call_is_done_with_the_reason(
    client: httpx.AsyncClient, deps: ApiDeps, store: Store, tenant: Tenant
) -> None:
    call = await ended_call(store, tenant)
    r = await client.post("/v1.0/aisummaries", json=body(call.id, language=""), headers=tenant.headers)
    assert r.status_code == 200, r.text
    done = await written(client, tenant, r.json()["id"])
    await deps.tasks.aclose(timeout=10)
    assert done["content"] == "" and "had no AI call" in done["error"]


async def test_post_refusals_name_the_field(client: httpx.AsyncClient, store: Store, tenant: Tenant,
                                            other: Tenant) -> None:
    call = await ended_call(store, tenant)
    for kind in ("conference", "transcribe", "recording"):
        r = await client.post("/v1.0/aisummaries", json=body(call.id, reference_type=kind), headers=tenant.headers)
        error = r.json()["error"]
        assert r.status_code == 400 and error["field"] == "reference_type", r.text
        assert f"no {kind} transcripts" in error["message"]
    cases = {"reference_type": body(call.id, reference_type="video"), "language": body(call.id, language="en US!"),
             "on_end_flow_id": {k: v for k, v in body(call.id).items() if k != "on_end_flow_id"},
             "extra": {**body(call.id), "extra": 1}}
    for field, sent in cases.items():
        r = await client.post("/v1.0/aisummaries", json=sent, headers=tenant.headers)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    # unknown calls, and another customer's, are not found
    for reference in ("0f0f0f0f-0000-4000-8000-000000000000", "not-a-call", call.id):
        who = other if reference == call.id else tenant
        r = await client.post("/v1.0/aisummaries", json=body(reference), headers=who.headers)
        assert r.status_code == 404 and r.json()["error"]["reason"] == "CALL_NOT_FOUND", r.text
    # a call still up and not on this engine (no engine here), and an on_end flow without an engine to run it
    live = await ended_call(store, tenant, status="progressing")
    r = await client.post("/v1.0/aisummaries", json=body(live.id), headers=tenant.headers)
    assert r.status_code == 409 and "not live on this engine" in r.json()["error"]["message"]
    r = await client.post("/v1.0/aisummaries", json=body(call.id, on_end_flow_id="0f0f0f0f-0000-4000-8000-00000000000f"),
                          headers=tenant.headers)
    assert r.status_code == 503
    assert (await client.post("/v1.0/aisummaries", json=body(call.id))).status_code == 401
    assert (await client.get("/v1.0/aisummaries", headers=tenant.headers)).json()["result"] == []


async def test_another_customer_never_sees_or_deletes_and_delete_is_soft(
    client: httpx.AsyncClient, deps: ApiDeps, store: Store, tenant: Tenant, other: Tenant
) -> None:
    call = await ended_call(store, tenant)
    r = await client.post("/v1.0/aisummaries", json=body(call.id, language=""), headers=tenant.headers)
    summary_id = r.json()["id"]
    await written(client, tenant, summary_id)
    await deps.tasks.aclose(timeout=10)
    seen = events_of(deps)
    assert (await client.get(f"/v1.0/aisummaries/{summary_id}", headers=other.headers)).status_code == 404
    refused = await client.delete(f"/v1.0/aisummaries/{summary_id}", headers=other.headers)
    assert refused.status_code == 404 and refused.json()["error"]["reason"] == "SUMMARY_NOT_FOUND"
    assert (await client.get("/v1.0/aisummaries", headers=other.headers)).json()["result"] == []
    assert (await client.get(f"/v1.0/aisummaries/{summary_id}", headers=tenant.headers)).status_code == 200
    assert seen == []
    deleted = await client.delete(f"/v1.0/aisummaries/{summary_id}", headers=tenant.headers)
    assert deleted.status_code == 200 and deleted.json()["tm_delete"] != format_timestamp(NOT_YET)
    assert [(e.type, e.customer_id, e.data["id"]) for e in seen] == [("summary_deleted", tenant.id, summary_id)]
    assert (await client.get(f"/v1.0/aisummaries/{summary_id}", headers=tenant.headers)).status_code == 404
    assert (await client.delete(f"/v1.0/aisummaries/{summary_id}", headers=tenant.headers)).status_code == 404
    assert (await client.get("/v1.0/aisummaries", headers=tenant.headers)).json()["result"] == []
    assert (await client.get("/v1.0/aisummaries/not-a-uuid", headers=tenant.headers)).status_code == 404
    assert (await store.summaries.get(tenant.id, summary_id, include_deleted=True)).deleted

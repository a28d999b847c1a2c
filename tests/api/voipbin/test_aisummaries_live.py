"""POST /v1.0/aisummaries on a call live on the engine (real private Asterisk): `progressing` until the call
hangs up, then written by the AI's model (a local OpenAI-compatible server) and its on_end flow run."""
from __future__ import annotations

import asyncio

import pytest

from flowengine.store import NIL_ID, Activeflow, AIcall, AIMessage
from tests.api.voipbin import test_calls_live
from tests.api.voipbin.test_calls_live import Live
from tests.fakes.openai_server import FakeOpenAIServer, Reply

live = test_calls_live.live  # the engine with its API on the private Asterisk


async def test_a_live_call_is_summarised_when_it_hangs_up_then_the_on_end_flow_runs(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, headers = live.engine.store, live.tenant.headers
    assert store is not None
    ai = (await live.http.post("/v1.0/ais", headers=headers, json={
        "name": "agent", "engine_model": "openai.gpt-test", "engine_key": "sk-live-key"})).json()
    on_end = (await live.http.post("/v1.0/flows", headers=headers, json={"name": "after summary", "actions": [
        {"type": "variable_set", "option": {"key": "got", "value": "${voipbin.ai_summary.content}"}}]})).json()
    call = await live.dial([{"type": "answer"}, {"type": "variable_set", "option": {"key": "topic", "value": "teeth"}},
                            {"type": "sleep", "option": {"duration": 30000}}])
    await live.wait_status(call["id"], "progressing")
    # what an AI call on this call leaves in the store
    aicall = await store.aicalls.create(AIcall(customer_id=live.tenant.id, assistance_type="ai",
                                               assistance_id=ai["id"], reference_type="call",
                                               reference_id=call["id"], status="terminated"))
    for role, text in (("assistant", "How can I help?"), ("user", "My tooth hurts.")):
        await store.aimessages.create(AIMessage(customer_id=live.tenant.id, aicall_id=aicall.id,
                                                active_ai_id=ai["id"], role=role, content=text))
    async with FakeOpenAIServer() as server:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", server.base_url)
        server.script(Reply(text="A caller with toothache."))
        r = await live.http.post("/v1.0/aisummaries", headers=headers, json={
            "on_end_flow_id": on_end["id"], "reference_type": "call", "reference_id": call["id"], "language": ""})
        assert r.status_code == 200, r.text
        made = r.json()
        assert made["status"] == "progressing" and made["on_end_flow_id"] == on_end["id"]
        await asyncio.sleep(0.5)
        assert (await live.http.get(f"/v1.0/aisummaries/{made['id']}", headers=headers)).json()["status"] \
            == "progressing"  # the call is still up
        assert not server.requests
        assert (await live.http.post(f"/v1.0/calls/{call['id']}/hangup", headers=headers)).status_code == 200
        done: dict[str, object] = {}
        for _ in range(200):  # at most 20 s
            done = (await live.http.get(f"/v1.0/aisummaries/{made['id']}", headers=headers)).json()
            if done["status"] == "done":
                break
            await asyncio.sleep(0.1)
    assert done["content"] == "A caller with toothache." and done["error"] == "", done
    assert "User: My tooth hurts." in server.requests[-1].body["messages"][-1]["content"]
    assert '"topic": "teeth"' in server.requests[-1].body["messages"][-1]["content"]  # the flow's variables

    async def on_end_run() -> list[Activeflow]:
        page = await store.activeflows.list_page(live.tenant.id, filters={"flow_id": on_end["id"]})
        return [af for af in page.items if af.status == "ended"]

    ran: list[Activeflow] = []
    for _ in range(100):  # at most 10 s
        ran = await on_end_run()
        if ran:
            break
        await asyncio.sleep(0.1)
    assert len(ran) == 1, ran
    after, hung_up = ran[0], await live.call(call["id"])
    assert (after.reference_type, after.reference_id) == ("ai", made["id"])
    assert after.reference_activeflow_id == hung_up["activeflow_id"] != NIL_ID  # a child of the call's activeflow
    assert after.variables["got"] == "A caller with toothache."
    assert after.variables["topic"] == "teeth"
    assert [e.type for e in live.events if e.type.startswith("summary_")] == ["summary_created", "summary_updated"]
    assert all(e.customer_id == live.tenant.id for e in live.events if e.type.startswith("summary_"))

"""VoiceOS-compatible API through VoiceOS's own SDK (voiceos 0.8.1.3): agents, conversations on real calls, webhooks."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from voiceos.client import VoiceOS
from voiceos.exceptions import ApiException
from voiceos.models.agent_configuration import AgentConfiguration
from voiceos.models.create_call import CreateCall
from voiceos.models.update_agent import UpdateAgent
from voiceos.models.webhook import Webhook

from flowengine.api.voiceos.models import EVENTS
from flowengine.events import Event
from flowengine.providers.catalogue import STT, TTS
from flowengine.store.timestamps import NOT_YET
from tests.api.conftest import Tenant
from tests.api.frontdoor_harness import Running, receiver, running_engine, until
from tests.conftest import Asterisk
from tests.fakes.openai_server import Reply


def sdk(run: Running, tenant: str = "A") -> VoiceOS:
    client = VoiceOS(api_key=run.tokens[tenant])
    client.configuration.host = run.base_url
    return client


async def test_agent_bodies_are_validated_as_voiceos_does(client: httpx.AsyncClient, tenant: Tenant) -> None:
    bad = await client.post("/agents", json={"voice": {"provider": "playht", "speed": 9},
                                             "max_duration_seconds": 0}, headers=tenant.headers)
    assert bad.status_code == 422
    locs = [e["loc"] for e in bad.json()["detail"]]
    assert ["body", "voice", "playht", "speed"] in locs and ["body", "max_duration_seconds"] in locs
    refused = await client.post("/agents", json={"voice": {"provider": "rime", "speaker": "x"},
                                                 "transcriber": {"provider": "deepgram"}}, headers=tenant.headers)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail[0]["loc"] == ["body", "voice", "provider"] and "'rime' is not available" in detail[0]["msg"]
    assert detail[1]["loc"] == ["body", "transcriber", "provider"]
    assert TTS.check("rime").reason in detail[0]["msg"] and STT.check("deepgram").reason in detail[1]["msg"]
    tool = {"type": "function", "function": {"name": "a-b", "parameters": {}}}
    named = await client.post("/agents", json={"language_model": {"tools": [tool]}}, headers=tenant.headers)
    assert named.status_code == 422 and "function" in json.dumps(named.json()["detail"][0]["loc"])
    unhooked = await client.post("/agents", json={"language_model": {"tools": [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]}},
        headers=tenant.headers)
    assert unhooked.status_code == 422 and "function_call:triggered" in unhooked.json()["detail"][0]["msg"]
    bad_filter = await client.post("/agents", json={"webhooks": [{"events": ["message:sent"], "url": "http://x/",
                                                                  "method": "POST", "filter": "role ~ 'a'"}]},
                                   headers=tenant.headers)
    assert bad_filter.status_code == 422
    assert bad_filter.json()["detail"][0]["loc"] == ["body", "webhooks", 0, "filter"]


@pytest.mark.asterisk
async def test_agents_crud_through_the_sdk_and_tenants_apart(asterisk: Asterisk, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(asterisk, tmp_path, monkeypatch) as run:
        a, b = sdk(run, "A"), sdk(run, "B")
        hook = Webhook(events=["message:sent"], url="http://127.0.0.1:9/hook", method="POST",
                       headers={"Authorization": "Bearer secret-of-the-customer"})
        made = await asyncio.to_thread(a.agents.create_agent, AgentConfiguration(
            prompt="Be brief.", initial_message="Hello!", metadata={"team": "sales"}, webhooks=[hook]))
        assert made.prompt == "Be brief." and made.max_duration_seconds == 600
        raw = await asyncio.to_thread(a.agents.get_agent_without_preload_content, made.id)
        assert json.loads(raw.data)["metadata"] == {"team": "sales"}  # the 0.8 SDK's from_dict drops metadata
        assert json.loads(raw.data)["webhooks"][0]["headers"] == {"Authorization": "********"}  # never returned
        got = await asyncio.to_thread(a.agents.get_agent, made.id)
        assert got.id == made.id and got.uri == f"/agents/{made.id}"
        changed = await asyncio.to_thread(a.agents.update_agent, made.id, UpdateAgent(prompt="Be kind."))
        assert changed.prompt == "Be kind." and changed.initial_message == "Hello!"
        assert await run.engine.store.agents.get_headers(changed.account_id, made.id) == [  # type: ignore[union-attr]
            {"Authorization": "Bearer secret-of-the-customer"}]
        listed = await asyncio.to_thread(a.agents.list_agents)
        assert [x.id for x in listed.items] == [made.id] and listed.has_more is False
        assert (await asyncio.to_thread(b.agents.list_agents)).items == []
        with pytest.raises(ApiException) as hidden:
            await asyncio.to_thread(b.agents.get_agent, made.id)
        assert hidden.value.status == 404
        await asyncio.to_thread(a.agents.delete_agent, made.id)
        with pytest.raises(ApiException):
            await asyncio.to_thread(a.agents.get_agent, made.id)


@pytest.mark.asterisk
async def test_sdk_create_phone_call_reaches_an_ai_call_and_every_hook_fires_in_order(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with receiver() as hooks, running_engine(asterisk, tmp_path, monkeypatch) as run:
        run.llm.script(*[Reply(text="Okay.")] * 4)
        seen: list[Event] = []
        run.engine.events.subscribe(seen.append)
        client = sdk(run)
        config = AgentConfiguration(prompt="You answer the phone.", initial_message="Hello, dental office.",
                                    webhooks=[Webhook(events=list(EVENTS), url=f"{hooks.url}/all", method="POST",
                                                      headers={"X-Token": "t0ken"})])
        created = await asyncio.to_thread(client.conversations.create_phone_call,
                                          CreateCall(from_number="5550100", to_number="talk3", agent_config=config))
        assert created.status.value == "queued" and created.agent_id is None
        assert created.phone_call is not None and created.phone_call.to_number == "talk3"

        def read(tenant: str = "A") -> Any:
            raw = sdk(run, tenant).conversations.get_conversation_without_preload_content(created.id)
            return raw.status, json.loads(raw.data)

        async def ended() -> bool:
            return bool((await asyncio.to_thread(read))[1]["status"] == "ended")

        await until(ended, timeout=90, what="conversation ended")
        _, conversation = await asyncio.to_thread(read)
        store = run.engine.store
        assert store is not None
        record = await store.frontcalls.get(created.account_id, created.id)
        assert conversation["ended_reason"] == "user_ended", record.ended_reason  # the callee hung up
        assert record.ended_reason == "customer-ended-call"
        assert conversation["messages"][0] == {"role": "agent", "content": "Hello, dental office."}
        assert any(m["role"] == "user" for m in conversation["messages"])
        cost = conversation["cost_breakdown"]
        assert cost["language_model"]["input_tokens"] > 0 and cost["voice"]["characters"] > 0
        assert cost["telephony"]["seconds"] > 0 and cost["agent"]["provider"] == "voiceos"
        assert cost["voice"]["engine_provider"] == "piper"  # what really spoke, beside the SDK's stand-in
        # the official SDK parses the ended conversation, alone and listed (its enums know no piper, whisper...)
        parsed = await asyncio.to_thread(client.conversations.get_conversation, created.id)
        assert parsed.status.value == "ended" and parsed.ended_reason is not None
        assert parsed.ended_reason.value == "user_ended" and parsed.cost_breakdown is not None
        assert parsed.cost_breakdown.voice.characters == cost["voice"]["characters"]
        listed = await asyncio.to_thread(client.conversations.list_conversations)
        assert [c.id for c in listed.items] == [created.id]
        # the AI call ended as the caller's hangup, with its end time
        aicall = await store.aicalls.get(created.account_id, record.aicall_id)
        assert (aicall.status, aicall.ended_reason) == ("terminated", "customer-ended-call")
        assert aicall.tm_end != NOT_YET
        # the call record: from -> to as dialled, answered (progressing), hung up by the callee
        call = await store.calls.get(created.account_id, record.call_id)
        assert (call.source.target, call.destination.target) == ("5550100", "talk3")
        assert (call.direction, call.status, call.hangup_by, call.hangup_reason) == (
            "outgoing", "hangup", "remote", "normal")
        assert call.tm_progressing != NOT_YET and call.activeflow_id == aicall.activeflow_id
        kinds = [e.type for e in seen if e.data.get("id") == call.id]
        assert kinds.count("call_progressing") == 1 and kinds[-1] == "call_hangup"
        status, _ = await asyncio.to_thread(read, "B")
        assert status == 404  # another account cannot see it
        page = await asyncio.to_thread(client.conversations.list_conversations_without_preload_content)
        assert [c["id"] for c in json.loads(page.data)["items"]] == [created.id]

        async def all_in() -> bool:
            return "conversation:ended" in [b["event"] for b in hooks.bodies("/all")]

        await until(all_in, timeout=20, what="conversation:ended hook")
        events = [b["event"] for b in hooks.bodies("/all")]
        once = ["phone_call:connection_requested", "phone_call:accepted", "conversation:started",
                "conversation:duration", "conversation:ended"]
        assert [e for e in events if e in once] == once  # each once, in this order
        assert "phone_call:rejected" not in events and "function_call:triggered" not in events
        for name in ("speech:started", "speech:ended", "message:sent", "message:generated"):
            assert events.index("conversation:started") < events.index(name) < events.index("conversation:ended")
        assert all(h.get("X-Token") == "t0ken" for _, _, h, _ in hooks.received)


@pytest.mark.asterisk
async def test_function_call_hook_answer_is_the_tool_result_for_the_model(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with receiver() as hooks, running_engine(asterisk, tmp_path, monkeypatch) as run:
        hooks.answer["/tools"] = {"result": "It is ten o'clock."}
        run.llm.script(Reply(tool_calls=(("get_time", '{"zone": "local"}'),)), *[Reply(text="It is ten.")] * 4)
        agent = {"prompt": "Tell the time.", "initial_message": "Hello.",
                 "language_model": {"provider": "openai", "model": "gpt-4o", "tools": [{"type": "function", "function": {
                     "name": "get_time", "description": "the time", "parameters": {"type": "object"}}}]},
                 "webhooks": [{"events": ["function_call:triggered"], "url": f"{hooks.url}/tools", "method": "POST"},
                              {"events": ["message:sent"], "url": f"{hooks.url}/said", "method": "POST",
                               "filter": "data.role == 'user'"}]}
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            created = await http.post("/conversations/create_phone_call", headers=run.headers(),
                                      json={"from_number": "5550100", "to_number": "hello8", "agent_config": agent})
            assert created.status_code == 200, created.text

            async def ended() -> bool:
                got = await http.get(f"/conversations/{created.json()['id']}", headers=run.headers())
                return bool(got.json()["status"] == "ended")

            await until(ended, timeout=90, what="conversation ended")
        calls = hooks.bodies("/tools")
        assert len(calls) == 1 and calls[0]["event"] == "function_call:triggered"
        assert calls[0]["data"]["name"] == "get_time" and calls[0]["data"]["arguments"] == {"zone": "local"}
        followup = run.llm.requests[1].body["messages"]
        tool_messages = [m for m in followup if m.get("role") == "tool"]
        assert tool_messages and "ten o'clock" in json.dumps(tool_messages)
        assert hooks.bodies("/said") and all(b["data"]["role"] == "user" for b in hooks.bodies("/said"))


@pytest.mark.asterisk
async def test_a_call_the_agent_ends_is_hung_up_by_us_in_its_call_record(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(asterisk, tmp_path, monkeypatch) as run:
        run.llm.script(*[Reply(text="Okay.")] * 6)
        agent = {"prompt": "Be brief.", "initial_message": "Hello.", "max_duration_seconds": 6}
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            created = await http.post("/conversations/create_phone_call", headers=run.headers(),
                                      json={"from_number": "5550100", "to_number": "talk30", "agent_config": agent})
            assert created.status_code == 200, created.text
            conversation_id = created.json()["id"]

            async def ended() -> bool:
                got = await http.get(f"/conversations/{conversation_id}", headers=run.headers())
                return bool(got.json()["status"] == "ended")

            await until(ended, timeout=60, what="conversation ended")
        store = run.engine.store
        assert store is not None
        record = await store.frontcalls.get(created.json()["account_id"], conversation_id)
        assert record.ended_reason == "exceeded-max-duration"

        async def hung_up() -> bool:
            call = await store.calls.get(record.customer_id, record.call_id)
            return call.status == "hangup"

        await until(hung_up, timeout=10, what="call record hung up")
        call = await store.calls.get(record.customer_id, record.call_id)
        assert (call.source.target, call.destination.target) == ("5550100", "talk30")
        assert (call.hangup_by, call.hangup_reason) == ("local", "normal") and call.tm_progressing != NOT_YET

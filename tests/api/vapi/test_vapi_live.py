"""Vapi /call on the real private Asterisk beyond the seed: a saved assistant with assistantOverrides, a squad
whose first member transfers to the second, and a busy callee."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.frontdoor_harness import Running, running_engine, until
from tests.conftest import Asterisk
from tests.fakes.openai_server import Reply

MODEL = {"provider": "openai", "model": "gpt-4o",
         "messages": [{"role": "system", "content": "You are a short-spoken receptionist."}]}
VOICE = {"provider": "espeak"}


async def ended(http: httpx.AsyncClient, run: Running, call_id: str, timeout: float = 90) -> dict[str, Any]:
    async def done() -> bool:
        got = (await http.get(f"/call/{call_id}", headers=run.headers())).json()
        return bool(got["status"] == "ended")

    await until(done, timeout=timeout, what=f"Vapi call {call_id} ended")
    body: dict[str, Any] = (await http.get(f"/call/{call_id}", headers=run.headers())).json()
    return body


async def only_aicall(http: httpx.AsyncClient, run: Running) -> dict[str, Any]:
    listed = (await http.get("/v1.0/aicalls", headers=run.headers())).json()["result"]
    assert len(listed) == 1, listed
    aicall: dict[str, Any] = listed[0]
    return aicall


@pytest.mark.asterisk
async def test_a_saved_assistant_with_overrides_greets_with_the_overridden_first_message(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(asterisk, tmp_path, monkeypatch) as run:
        run.llm.script(*[Reply(text="Thank you, goodbye.")] * 4)
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            saved = await http.post("/v1.0/ais", headers=run.headers(), json={
                "name": "receptionist", "engine_model": "openai.gpt-4o", "init_prompt": "Be brief.",
                "tts_type": "espeak", "stt_type": "whisper",
                "parameter": {"first_message": "Hello from the saved assistant."}})
            assert saved.status_code == 200, saved.text
            ai_id = saved.json()["id"]
            refused = await http.post("/call", headers=run.headers(), json={
                "assistantId": ai_id, "customer": {"number": "hello3"},
                "assistantOverrides": {"model": MODEL, "firstMessage": "Hi."}})
            assert refused.status_code == 400 and refused.json()["error"]["field"] == "assistantOverrides.model"
            bad = await http.post("/call", headers=run.headers(), json={
                "assistantId": ai_id, "customer": {"number": "hello3"},
                "assistantOverrides": {"firstMessageMode": "sometimes"}})
            assert bad.status_code == 400 and bad.json()["error"]["field"] == "assistantOverrides.firstMessageMode"
            foreign = await http.post("/call", headers=run.headers("B"), json={
                "assistantId": ai_id, "customer": {"number": "hello3"}})
            assert foreign.status_code == 400 and foreign.json()["error"]["field"] == "assistantId"
            created = await http.post("/call", headers=run.headers(), json={
                "assistantId": ai_id, "customer": {"number": "hello3"},
                "assistantOverrides": {"firstMessage": "Hello {{customerName}}, this is {{ office }} calling.",
                                       "variableValues": {"customerName": "Ada", "office": "Bright Smile"}}})
            assert created.status_code == 201, created.text
            call = await ended(http, run, created.json()["id"])
            assert call["endedReason"] == "customer-ended-call"
            assert call["assistantId"] == ai_id and call["assistantOverrides"]["variableValues"]["customerName"] == "Ada"
            first = next(m for m in call["messages"] if m["role"] == "bot")
            assert first["message"] == "Hello Ada, this is Bright Smile calling."
            assert call["transcript"].startswith("AI: Hello Ada, this is Bright Smile calling.")
            aicall = await only_aicall(http, run)
            assert aicall["variable_values"] == {"customerName": "Ada", "office": "Bright Smile"}
            # the saved assistant itself is unchanged: the overrides were this call's only
            kept = (await http.get(f"/v1.0/ais/{ai_id}", headers=run.headers())).json()
            assert kept["parameter"] == {"first_message": "Hello from the saved assistant."}
            assert aicall["assistance_id"] != ai_id


@pytest.mark.asterisk
async def test_a_squad_member_transfers_to_the_second_member(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    squad = {"name": "front desk", "members": [
        {"assistant": {"name": "Riley", "model": MODEL, "voice": VOICE, "firstMessage": "Hi, this is Riley."},
         "assistantDestinations": [{"type": "assistant", "assistantName": "Sam", "message": "Let me get Sam for you.",
                                    "description": "Sam handles billing."}]},
        {"assistant": {"name": "Sam", "voice": VOICE, "model": {**MODEL, "messages": [
            {"role": "system", "content": "You are Sam from billing."}]}}}]}
    async with running_engine(asterisk, tmp_path, monkeypatch) as run:
        run.llm.script(Reply(tool_calls=(("transfer_to_sam", "{}"),)), Reply(text="Sam here, from billing."),
                       *[Reply(text="Anything else?")] * 3)
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            created = await http.post("/call", headers=run.headers(),
                                      json={"squad": squad, "customer": {"number": "hello6"}})
            assert created.status_code == 201, created.text
            call = await ended(http, run, created.json()["id"])
            assert call["endedReason"] == "customer-ended-call"
            aicall = await only_aicall(http, run)
            assert aicall["assistance_type"] == "team"
            team = (await http.get(f"/v1.0/teams/{aicall['assistance_id']}", headers=run.headers())).json()
            members = {m["name"]: m for m in team["members"]}
            assert team["start_member_id"] == members["Riley"]["id"]
            assert aicall["current_member_id"] == members["Sam"]["id"]  # the call ended with the second member
            messages = (await http.get(f"/v1.0/aimessages?aicall_id={aicall['id']}&page_size=100",
                                       headers=run.headers())).json()["result"]
            messages.sort(key=lambda m: str(m["tm_create"]))
            notices = [json.loads(m["content"]) for m in messages if m["role"] == "notification"]
            assert len(notices) == 1
            notice = notices[0]
            assert notice["type"] == "member_switched" and notice["transition_function_name"] == "transfer_to_sam"
            assert (notice["from_member"]["name"], notice["to_member"]["name"]) == ("Riley", "Sam")
            said = [m["content"] for m in messages if m["role"] == "assistant" and m["content"]]
            # Riley greets, says the destination's handover line (in the transcript, not in the model's
            # context), then Sam answers
            assert said[:3] == ["Hi, this is Riley.", "Let me get Sam for you.", "Sam here, from billing."]
            # the model Sam answered with had Sam's prompt and Riley's transfer tool no more
            after = run.llm.requests[1].body
            assert any("You are Sam from billing." in str(m.get("content")) for m in after["messages"])
            assert "transfer_to_sam" not in json.dumps(after.get("tools", []))


@pytest.mark.asterisk
async def test_a_busy_callee_ends_the_call_with_customer_busy(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(asterisk, tmp_path, monkeypatch) as run, \
            httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
        created = await http.post("/call", headers=run.headers(), json={
            "assistant": {"name": "caller", "model": MODEL, "voice": VOICE, "firstMessage": "Hello."},
            "customer": {"number": "busy"}})
        assert created.status_code == 201, created.text
        call = await ended(http, run, created.json()["id"], timeout=30)
        assert call["endedReason"] == "customer-busy"
        assert call["messages"] == [] and not call.get("startedAt")  # never answered, nothing said
        assert (await http.get("/v1.0/aicalls", headers=run.headers())).json()["result"] == []
        assert run.llm.requests == []

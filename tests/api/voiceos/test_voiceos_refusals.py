"""VoiceOS bodies this engine cannot honour are refused at their field before anything is dialled: a language or
voice the provider cannot do (422 at its loc), an agent that cannot run now (its key gone; no channel created)."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Tenant
from tests.api.frontdoor_harness import running_engine
from tests.conftest import Asterisk


async def test_a_language_or_voice_the_provider_cannot_do_is_a_422_at_its_field(client: httpx.AsyncClient,
                                                                                 tenant: Tenant) -> None:
    body = {"voice": {"provider": "piper", "voice_id": "en_GB-alba-medium"},
            "transcriber": {"provider": "whisper", "language": "de"}}
    for path, where in (("/agents", ["body"]), ("/conversations/create_phone_call", ["body", "agent_config"])):
        sent = body if path == "/agents" else {"from_number": "1", "to_number": "2", "agent_config": body}
        refused = await client.post(path, json=sent, headers=tenant.headers)
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert [e["loc"] for e in detail] == [[*where, "voice", "voice_id"], [*where, "transcriber", "language"]]
        assert "piper has no voice 'en_GB-alba-medium'" in detail[0]["msg"]
        assert "(English only)" in detail[1]["msg"]
    fine = await client.post("/agents", json={"voice": {"provider": "piper", "voice_id": "en_US-joe-medium"},
                                              "transcriber": {"provider": "whisper", "language": "en-US"}},
                             headers=tenant.headers)
    assert fine.status_code == 200, fine.text
    changed = await client.patch(f"/agents/{fine.json()['id']}", json={"transcriber": {
        "provider": "whisper", "language": "fr"}}, headers=tenant.headers)
    assert changed.status_code == 422 and changed.json()["detail"][0]["loc"] == ["body", "transcriber", "language"]


@pytest.mark.asterisk
async def test_an_agent_that_cannot_run_now_is_refused_before_any_channel_is_created(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(asterisk, tmp_path, monkeypatch) as run, \
            httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
        agent = await http.post("/agents", headers=run.headers(), json={"voice": {"provider": "espeak"}})
        assert agent.status_code == 200, agent.text
        monkeypatch.delenv("OPENAI_API_KEY")  # stored earlier, unrunnable now: its model has no key
        for body, loc in (({"agent_id": agent.json()["id"]}, ["body", "agent_id"]),
                          ({"agent_config": {"voice": {"provider": "espeak"}}},
                           ["body", "agent_config", "language_model", "model"])):
            reply = await http.post("/conversations/create_phone_call", headers=run.headers(),
                                    json={"from_number": "5550199", "to_number": "hello3", **body})
            assert reply.status_code == 422, reply.text
            [problem] = reply.json()["detail"]
            assert problem["loc"] == loc and "no API key for openai" in problem["msg"]
            assert asterisk.channels() == []  # no originate reached Asterisk
        assert (await http.get("/conversations", headers=run.headers())).json()["items"] == []
        assert run.llm.requests == []

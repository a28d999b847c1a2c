"""Vapi-compatible /call: the seed's body (refusals by JSON path, the supported subset starting a real AI call)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowengine.api.vapi.assistant import ANY
from flowengine.api.vapi.routes import CALL
from flowengine.providers.catalogue import LLM, STT, TTS
from tests.api.conftest import Tenant
from tests.api.frontdoor_harness import receiver, running_engine, until
from tests.conftest import Asterisk
from tests.fakes.openai_server import Reply

SEED = json.loads((Path(__file__).parents[2] / "fixtures" / "vapi_create_call_seed.json").read_text())


def prune(value: Any, spec: Any) -> Any:
    """The seed's fields this engine supports (the rest is what the 400 names)."""
    if spec is ANY or not isinstance(value, dict):
        return value
    return {k: prune(v, spec[k]) for k, v in value.items() if k in spec}


async def test_the_seed_body_is_refused_naming_every_unsupported_field(client: httpx.AsyncClient,
                                                                      tenant: Tenant) -> None:
    reply = await client.post("/call/phone", json=SEED, headers=tenant.headers)
    assert reply.status_code == 400
    message = reply.json()["error"]["message"]
    assert "customerId: stored customers are not supported" in message
    assert "phoneNumberId: stored phone numbers are not supported" in message
    for path in ("phoneNumber.twilioAccountSid", "assistant.model.toolIds",
                 "assistant.model.fallbackModels", "assistant.voice.speed", "assistant.clientMessages",
                 "assistant.backgroundSound", "assistant.transcriber.smartFormat", "assistantOverrides.backgroundSound",
                 "customer.extension"):
        assert f"{path}: not supported by this engine" in message, path
    assert reply.json()["error"]["field"] == "customerId"


async def test_values_the_engine_cannot_honour_are_refused_by_path(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"customer": {"number": "talk1"}, "assistant": {
        "model": {"provider": "openai", "model": "gpt-4o", "messages": [{"role": "assistant", "content": "hi"}]},
        "voice": {"provider": "azure", "voiceId": "andrew"}, "transcriber": {"provider": "deepgram"},
        "serverMessages": ["hang"], "recordingEnabled": True}}
    reply = await client.post("/call", json=body, headers=tenant.headers)
    assert reply.status_code == 400
    message = reply.json()["error"]["message"]
    assert "assistant.voice.provider: 'azure' is not available" in message
    assert "assistant.transcriber.provider: 'deepgram' is not available" in message
    assert "assistant.model.messages[0].role" in message and "assistant.serverMessages" in message
    assert "assistant.recordingEnabled" in message
    missing = await client.post("/call", json={"assistant": {"name": "x"}}, headers=tenant.headers)
    assert "customer.number" in missing.json()["error"]["message"]


async def test_providers_are_the_catalogues_with_vapis_spellings(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"customer": {"number": "talk1"}, "assistant": {
        "model": {"provider": "dialogflow", "model": "cx-agent"}, "voice": {"provider": "rimeai"},
        "transcriber": {"provider": "gladia"}}}
    reply = await client.post("/call", json=body, headers=tenant.headers)
    assert reply.status_code == 400
    message = reply.json()["error"]["message"]
    assert f"assistant.model.provider: 'dialogflow' is not available: {LLM.check('dialogflow.x').reason}" in message
    assert f"assistant.voice.provider: 'rimeai' is not available: {TTS.check('rime').reason}" in message
    assert f"assistant.transcriber.provider: 'gladia' is not available: {STT.check('gladia').reason}" in message


@pytest.mark.parametrize(("assistant", "field", "says"), [
    ({"transcriber": {"provider": "faster-whisper", "language": "de"}}, "assistant.transcriber.language",
     "(English only)"),
    ({"transcriber": {"language": "es-MX"}}, "assistant.transcriber.language", "(English only)"),
    ({"voice": {"provider": "piper", "voiceId": "jennifer"}}, "assistant.voice.voiceId", "piper has no voice"),
    ({"voice": {"voiceId": "jennifer"}}, "assistant.voice.voiceId", "piper has no voice 'jennifer'"),
])
async def test_a_language_or_voice_the_provider_cannot_do_is_refused_by_path(
        client: httpx.AsyncClient, tenant: Tenant, assistant: dict[str, Any], field: str, says: str) -> None:
    body = {"customer": {"number": "talk1"}, "assistant": {"model": {"provider": "openai", "model": "gpt-4o"},
                                                           **assistant}}
    reply = await client.post("/call", json=body, headers=tenant.headers)
    assert reply.status_code == 400 and reply.json()["error"]["field"] == field, reply.text
    assert f"{field}: " in reply.json()["error"]["message"] and says in reply.json()["error"]["message"]


@pytest.mark.parametrize("part", ["model", "voice", "transcriber"])
async def test_a_part_that_is_not_an_object_is_refused_by_path(client: httpx.AsyncClient, tenant: Tenant,
                                                               part: str) -> None:
    assistant: dict[str, Any] = {"model": {"provider": "openai", "model": "gpt-4o"}, part: "x"}
    reply = await client.post("/call", json={"customer": {"number": "talk1"}, "assistant": assistant},
                              headers=tenant.headers)
    assert reply.status_code == 400, reply.text
    assert f"assistant.{part}: must be an object" in reply.json()["error"]["message"]


def supported_seed(number: str, server_url: str) -> dict[str, Any]:
    body = prune(copy.deepcopy(SEED), CALL)
    for key in ("assistantId", "squadId", "squad", "assistantOverrides", "phoneNumber"):
        body.pop(key, None)  # one of assistant / assistantId / squad; overrides tested apart
    assistant = body["assistant"]
    for key in ("voice", "transcriber", "voicemailDetection", "analysisPlan", "voicemailMessage", "serverUrlSecret",
                "recordingEnabled"):
        assistant.pop(key, None)  # cloud providers and a plan whose sample schema is not valid JSON Schema
    body["customer"] = {"number": number, "name": "Test Callee"}
    body["metadata"] = {"crm": "42"}
    assistant["model"] = {"provider": "openai", "model": "gpt-4o", "temperature": 0.2, "maxTokens": 120,
                          "messages": [{"role": "system", "content": "You are a short-spoken receptionist."}]}
    assistant.update(name="receptionist", firstMessage="Hello, this is the dental office.",
                     endCallPhrases=["goodbye"], endCallMessage="", serverUrl=server_url, serverUrlSecret="s3cret",
                     serverMessages=["status-update", "end-of-call-report", "transcript"])
    return body


@pytest.mark.asterisk
async def test_a_vapi_call_from_the_seed_reaches_an_ai_call_and_ends_with_the_phrase(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with receiver() as hooks, running_engine(asterisk, tmp_path, monkeypatch) as run:
        run.llm.script(*[Reply(text="Thank you for calling. Goodbye.")] * 3)
        body = supported_seed("talk15", f"{hooks.url}/vapi")
        async with httpx.AsyncClient(base_url=run.base_url, timeout=30) as http:
            created = await http.post("/call/phone", json=body, headers=run.headers())
            assert created.status_code == 201, created.text
            call = created.json()
            assert call["status"] in ("queued", "ringing") and call["customer"]["number"] == "talk15"
            assert "serverUrlSecret" not in json.dumps(call)

            async def ended() -> bool:
                got = (await http.get(f"/call/{call['id']}", headers=run.headers())).json()
                return bool(got["status"] == "ended")

            await until(ended, timeout=90, what="Vapi call ended")
            got = (await http.get(f"/call/{call['id']}", headers=run.headers())).json()
            assert got["endedReason"] == "assistant-said-end-call-phrase"
            assert got["startedAt"] and got["endedAt"] and got["metadata"] == {"crm": "42"}
            roles = [m["role"] for m in got["messages"]]
            assert roles[0] == "bot" and "user" in roles
            assert "AI: Hello, this is the dental office." in got["transcript"] and "User: " in got["transcript"]
            breakdown = got["costBreakdown"]
            assert breakdown["llmPromptTokens"] > 0 and breakdown["ttsCharacters"] > 0 and "total" in breakdown
            by_type = {c["type"]: c for c in got["costs"]}  # Vapi's costs: each provider by name
            assert by_type["model"]["model"]["provider"] == "openai" and by_type["voice"]["characters"] > 0
            assert by_type["transcriber"]["transcriber"]["provider"] == "whisper"
            request = run.llm.requests[0].body
            assert request["temperature"] == 0.2 and request["max_completion_tokens"] == 120
            listed = (await http.get("/call", headers=run.headers())).json()
            assert [c["id"] for c in listed] == [call["id"]]
            assert (await http.get("/call", headers=run.headers("B"))).json() == []
            assert (await http.get(f"/call/{call['id']}", headers=run.headers("B"))).status_code == 404
            patched = await http.patch(f"/call/{call['id']}", json={"name": "renamed", "metadata": {"a": "b"}},
                                       headers=run.headers())
            assert patched.json()["name"] == "renamed" and patched.json()["metadata"] == {"a": "b"}
            bad = await http.patch(f"/call/{call['id']}", json={"status": "ended"}, headers=run.headers())
            assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"
        door = run.engine.api.deps.placed_calls if run.engine.api else None
        assert door is not None

        async def reported() -> bool:
            return any(b["message"]["type"] == "end-of-call-report" for b in hooks.bodies("/vapi"))

        await until(reported, timeout=20, what="end-of-call-report")
        types = [b["message"]["type"] for b in hooks.bodies("/vapi")]
        statuses = [b["message"]["status"] for b in hooks.bodies("/vapi") if b["message"]["type"] == "status-update"]
        assert statuses == ["queued", "ringing", "in-progress", "ended"]
        assert "transcript" in types and "conversation-update" not in types  # only the messages asked for
        report = next(b["message"] for b in hooks.bodies("/vapi") if b["message"]["type"] == "end-of-call-report")
        assert report["endedReason"] == "assistant-said-end-call-phrase" and report["transcript"]
        method, _, headers, body = hooks.received[0]
        raw = json.dumps(body, separators=(",", ":")).encode()
        expected = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
        assert method == "POST" and headers["X-VoIPBIN-Signature"] == expected


def test_transcriber_keywords_become_the_ais_stt_keywords() -> None:
    from flowengine.api.vapi.assistant import AssistantError, assistant_to_ai

    assistant = {"model": {"provider": "rules", "model": "appointments"},
                 "transcriber": {"provider": "whisper", "keywords": ["Brightsmile:2", "Okafor"], "keyterm": ["Dr Ng"]}}
    ai, _ = assistant_to_ai(assistant, customer_id="7c4d2f3a-1b8e-4f5c-9a6d-3e2f1a0b4c5d")
    assert ai.parameter["stt_keywords"] == ["Dr Ng", "Brightsmile", "Okafor"]
    with pytest.raises(AssistantError) as err:
        assistant_to_ai({**assistant, "transcriber": {"keywords": "Brightsmile"}}, customer_id="7c4d2f3a-1b8e-4f5c-9a6d-3e2f1a0b4c5d")
    assert err.value.problems == [("assistant.transcriber.keywords", "must be a list of strings")]

"""/v1.0/ais: engine_key is write-only: never in responses, logs or the database in clear; providers are the catalogue's."""
from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from flowengine.ai.sources import StoreResources
from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.providers.catalogue import check
from flowengine.store import Store
from flowengine.tenancy import acting_for
from tests.api.conftest import Tenant, new_tenant
from tests.store.conftest import SECRET_KEY

KEY = "sk-very-secret-engine-key-42"


async def test_engine_key_never_leaks(client: httpx.AsyncClient, tenant: Tenant, other: Tenant, store: Store,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"name": "agent", "engine_model": "openai.gpt-4o", "engine_key": KEY, "init_prompt": "be brief"}
    created = await client.post("/v1.0/ais", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    ai = created.json()
    assert "engine_key" not in ai and KEY not in created.text
    got = await client.get(f"/v1.0/ais/{ai['id']}", headers=tenant.headers)
    listed = await client.get("/v1.0/ais", headers=tenant.headers)
    updated = await client.put(f"/v1.0/ais/{ai['id']}", json={**body, "engine_key": ""}, headers=tenant.headers)
    bad = await client.post("/v1.0/ais", json={**body, "type": "weird"}, headers=tenant.headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "type"
    for reply in (got, listed, updated, bad):
        assert KEY not in reply.text
    assert KEY not in caplog.text
    assert (await store.ais.get_engine_key(tenant.id, ai["id"])).get_secret_value() == KEY  # kept by the PUT
    async with store.db.read() as conn:
        rows = (await conn.execute(text("SELECT * FROM ais"))).all()
    assert all(KEY not in str(row) for row in rows)
    assert (await client.get(f"/v1.0/ais/{ai['id']}", headers=other.headers)).status_code == 404


TOOL_SECRET = "hmac-tool-secret-api-0123456789"


def lookup_tool(**server: str) -> dict[str, object]:
    return {"type": "function", "function": {"name": "lookup_order", "description": "Look up an order."},
            "server": {"url": "http://127.0.0.1:9/tool", **server}}


async def test_tool_secrets_are_write_only_and_kept_across_updates(
    client: httpx.AsyncClient, tenant: Tenant, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"name": "agent", "engine_model": "openai.gpt-4o", "tools": [lookup_tool(secret=TOOL_SECRET)]}
    created = await client.post("/v1.0/ais", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    ai = created.json()
    assert ai["tools"][0]["server"] == {"url": "http://127.0.0.1:9/tool"}  # no secret, no marker
    secrets = await store.ais.get_tool_secrets(tenant.id, ai["id"])
    assert secrets == {"lookup_order": SecretStr(TOOL_SECRET)}

    resent = await client.put(f"/v1.0/ais/{ai['id']}", json={**body, "tools": ai["tools"]}, headers=tenant.headers)
    assert resent.status_code == 200, resent.text  # what GET shows, sent back: the secret stays
    assert await store.ais.get_tool_secrets(tenant.id, ai["id"]) == secrets
    bad = await client.post("/v1.0/ais", json={**body, "tools": [lookup_tool(url="ftp://x", secret=TOOL_SECRET)]},
                            headers=tenant.headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "tools", bad.text
    replies = [created, resent, bad, await client.get(f"/v1.0/ais/{ai['id']}", headers=tenant.headers),
               await client.get("/v1.0/ais", headers=tenant.headers)]
    assert all(TOOL_SECRET not in reply.text for reply in replies)

    changed = {**body, "tools": [lookup_tool(secret="rotated-secret")]}
    assert (await client.put(f"/v1.0/ais/{ai['id']}", json=changed, headers=tenant.headers)).status_code == 200
    assert await store.ais.get_tool_secrets(tenant.id, ai["id"]) == {"lookup_order": SecretStr("rotated-secret")}
    cleared = {**body, "tools": [lookup_tool(secret="")]}
    assert (await client.put(f"/v1.0/ais/{ai['id']}", json=cleared, headers=tenant.headers)).status_code == 200
    assert await store.ais.get_tool_secrets(tenant.id, ai["id"]) == {}
    await client.put(f"/v1.0/ais/{ai['id']}", json=body, headers=tenant.headers)
    assert (await client.put(f"/v1.0/ais/{ai['id']}", json={**body, "tools": []}, headers=tenant.headers)).is_success
    assert await store.ais.get_tool_secrets(tenant.id, ai["id"]) == {}  # the tool went, and its secret
    assert TOOL_SECRET not in caplog.text and "rotated-secret" not in caplog.text
    async with store.db.read() as conn:
        rows = (await conn.execute(text("SELECT * FROM ais"))).all()
    assert all(TOOL_SECRET not in str(row) for row in rows)


async def test_a_stored_ais_tool_secret_reaches_a_fresh_engine_source(
    client: httpx.AsyncClient, tenant: Tenant, store: Store, shared_url: str
) -> None:
    body = {"name": "agent", "engine_model": "openai.gpt-4o", "tools": [lookup_tool(secret=TOOL_SECRET)]}
    ai = (await client.post("/v1.0/ais", json=body, headers=tenant.headers)).json()
    async with await Store.open(shared_url, secret_keys=[SECRET_KEY]) as restarted:
        resources = StoreResources(restarted)
        loaded = await resources.load_ai(tenant.id, ai["id"])
        with acting_for(tenant.id):
            found = resources.get(ai["id"])
    assert loaded.tool_secrets == {"lookup_order": SecretStr(TOOL_SECRET)}
    assert found is not None and found.tool_secrets == loaded.tool_secrets
    assert "secret" not in found.ai.tools[0]["server"]


async def test_unknown_tool_names_are_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"name": "agent", "engine_model": "openai.gpt-4o", "tool_names": ["stop_service", "fly_away"]}
    reply = await client.post("/v1.0/ais", json=body, headers=tenant.headers)
    assert reply.status_code == 400 and reply.json()["error"]["field"] == "tool_names"
    assert "'fly_away' is not a tool" in reply.json()["error"]["message"]


async def test_providers_this_engine_cannot_run_are_refused_naming_the_field(client: httpx.AsyncClient,
                                                                             tenant: Tenant) -> None:
    for field, value in (("tts_type", "rime"), ("stt_type", "gladia"), ("engine_model", "dialogflow.cx"),
                         ("tts_type", "pipr")):
        body = {"name": "agent", "engine_model": "openai.gpt-4o", field: value}
        reply = await client.post("/v1.0/ais", json=body, headers=tenant.headers)
        assert reply.status_code == 400 and reply.json()["error"]["field"] == field, reply.text
        reason = check({"tts_type": "tts", "stt_type": "stt", "engine_model": "llm"}[field], value).reason
        assert f"{value!r} is not available: {reason}" in reply.json()["error"]["message"]
    created = await client.post("/v1.0/ais", json={"name": "agent", "engine_model": "rules.appointments",
                                                   "tts_type": "", "stt_type": "whisper"}, headers=tenant.headers)
    assert created.status_code == 200 and created.json()["tts_type"] == ""  # "" stays: the engine's default voice
    changed = await client.put(f"/v1.0/ais/{created.json()['id']}", json={
        "name": "agent", "engine_model": "rules.appointments", "tts_type": "rime"}, headers=tenant.headers)
    assert changed.status_code == 400 and changed.json()["error"]["field"] == "tts_type"


SEED_EXAMPLE = {  # seed 001's example body, as written (its engine_key and tool names kept)
    "name": "Sales Assistant AI", "detail": "AI assistant for handling sales inquiries",
    "engine_model": "openai.gpt-4o", "parameter": {}, "engine_key": "sk-...",
    "init_prompt": "You are a friendly sales assistant. Help customers find the right products.",
    "tts_type": "elevenlabs", "tts_voice_id": "EXAVITQu4vr4xnSDxMaL", "stt_type": "deepgram",
    "tool_names": ["connect_call", "send_email", "stop_service"]}


async def test_the_seeds_own_example_runs_here_once_its_speech_keys_are_set(
        client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    # the seed's voice and recogniser (elevenlabs, deepgram) run here; their keys are the engine's: without
    # them the AI is refused naming the field and what to set, with them it is stored
    for name in ("ELEVENLABS_API_KEY", "ELEVEN_API_KEY", "DEEPGRAM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    reply = await client.post("/v1.0/ais", json=SEED_EXAMPLE, headers=tenant.headers)
    assert reply.status_code == 400 and reply.json()["error"]["field"] == "tts_type", reply.text
    message = reply.json()["error"]["message"]
    for kind, name in (("tts", "elevenlabs"), ("stt", "deepgram")):
        assert f"{name!r} is not available: {check(kind, name).reason}" in message
    assert "ELEVENLABS_API_KEY" in message and "DEEPGRAM_API_KEY" in message
    assert (await client.get("/v1.0/ais", headers=tenant.headers)).json()["result"] == []  # nothing stored
    monkeypatch.setenv("ELEVENLABS_API_KEY", "xi-test")
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test")
    reply = await client.post("/v1.0/ais", json=SEED_EXAMPLE, headers=tenant.headers)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["tts_type"], reply.json()["stt_type"]) == ("elevenlabs", "deepgram")


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"stt_type": "whisper", "stt_language": "de-DE"}, "stt_language", "(English only)"),
    ({"stt_type": "", "stt_language": "ko-KR"}, "stt_language", "(English only)"),  # the default is Whisper
    ({"tts_type": "piper", "tts_voice_id": "EXAVITQu4vr4xnSDxMaL"}, "tts_voice_id", "piper has no voice"),
    ({"tts_type": "", "tts_voice_id": "nova"}, "tts_voice_id", "piper has no voice 'nova'"),
])
async def test_a_language_or_voice_the_provider_cannot_do_is_refused_naming_the_field(
        client: httpx.AsyncClient, tenant: Tenant, changes: dict[str, str], field: str, says: str) -> None:
    body = {"name": "agent", "engine_model": "rules.appointments", **changes}
    reply = await client.post("/v1.0/ais", json=body, headers=tenant.headers)
    assert reply.status_code == 400 and reply.json()["error"]["field"] == field, reply.text
    assert says in reply.json()["error"]["message"]
    fine = {"name": "agent", "engine_model": "rules.appointments", "stt_type": "whisper", "stt_language": "en-US",
            "tts_type": "piper", "tts_voice_id": "en_US-joe-medium"}
    created = await client.post("/v1.0/ais", json=fine, headers=tenant.headers)
    assert created.status_code == 200, created.text
    changed = await client.put(f"/v1.0/ais/{created.json()['id']}", json={**fine, **changes}, headers=tenant.headers)
    assert changed.status_code == 400 and changed.json()["error"]["field"] == field


async def test_one_undecryptable_stored_secret_does_not_stop_the_engine_loading_the_rest(
    client: httpx.AsyncClient, tenant: Tenant, store: Store, shared_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = (await client.post("/v1.0/ais", json={"name": "good", "engine_model": "openai.gpt-4o",
                                                  "engine_key": KEY}, headers=tenant.headers)).json()
    bad = (await client.post("/v1.0/ais", json={"name": "damaged", "engine_model": "openai.gpt-4o",
                                                 "engine_key": KEY}, headers=tenant.headers)).json()
    async with store.db.write() as conn:  # a damaged token (e.g. restored from a bad backup)
        await conn.execute(text("UPDATE ais SET engine_key_enc = 'gAAAAAdamaged' WHERE id = :id"), {"id": bad["id"]})
    async with await Store.open(shared_url, secret_keys=[SECRET_KEY]) as restarted:
        resources = StoreResources(restarted)
        with caplog.at_level(logging.ERROR, logger="flowengine.ai.sources"):
            await resources.warm()
        with acting_for(tenant.id):
            assert resources.get(good["id"]) is not None and resources.get(bad["id"]) is None
    assert f"stored AI {bad['id']}" in caplog.text and KEY not in caplog.text


async def test_secrets_sent_to_an_engine_without_a_store_key_are_refused_naming_the_field(tmp_path: Path) -> None:
    async with await Store.open(f"sqlite+aiosqlite:///{tmp_path}/nokey.db") as keyless:
        tenant = await new_tenant(keyless)
        app = create_app(ApiDeps(store=keyless))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            for body, field in (
                ({"name": "a", "engine_model": "openai.gpt-4o", "engine_key": KEY}, "engine_key"),
                ({"name": "b", "engine_model": "openai.gpt-4o", "tools": [lookup_tool(secret=TOOL_SECRET)]}, "tools"),
            ):
                reply = await http.post("/v1.0/ais", json=body, headers=tenant.headers)
                error = reply.json()["error"]
                assert reply.status_code == 409 and error["field"] == field, reply.text
                assert "store.secret_key" in error["message"] and KEY not in reply.text and TOOL_SECRET not in reply.text
            assert (await http.get("/v1.0/ais", headers=tenant.headers)).json()["result"] == []  # nothing half-saved

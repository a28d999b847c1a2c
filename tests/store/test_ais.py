"""AIs: every field of the seed round-trips; engine_key is encrypted at rest, readable only
through get_engine_key, never in records, reprs or logs; wrong and missing keys fail clearly."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from flowengine.store import (
    AI,
    EncryptionKeyMismatchError,
    EncryptionKeyMissingError,
    InvalidEncryptionKeyError,
    NotFoundError,
    SecretDecryptError,
    Store,
    VadConfig,
    generate_secret_key,
)
from flowengine.store.ais import ais
from flowengine.store.crypto import SecretBox
from flowengine.store.frontdoor import Agent
from tests.store.conftest import SECRET_KEY, new_customer

ENGINE_KEY = "sk-test-0123456789abcdefSECRET"
TOOL_SECRET = "hmac-tool-secret-0123456789SECRET"

SEED_AI = {  # the example of seed 001, engine_key aside
    "name": "Sales Assistant AI",
    "detail": "AI assistant for handling sales inquiries",
    "engine_model": "openai.gpt-4o",
    "parameter": {},
    "init_prompt": "You are a friendly sales assistant. Help customers find the right products.",
    "tts_type": "elevenlabs",
    "tts_voice_id": "EXAVITQu4vr4xnSDxMaL",
    "stt_type": "deepgram",
    "tool_names": ["connect_call", "send_email", "stop_service"],
}


async def test_every_seed_field_round_trips(store: Store) -> None:
    customer_id = await new_customer(store)
    seed_fields = set(SEED_AI) | {"id", "customer_id", "tm_create", "tm_update", "tm_delete"}
    assert seed_fields <= set(AI.model_fields)
    ai = await store.ais.create(
        AI(
            customer_id=customer_id,
            **{**SEED_AI, "parameter": {"language": "en-US", "nested": {"a": [1, 2]}}},
            vad_config=VadConfig(confidence=0.5, stop_secs=0.8),
            smart_turn_enabled=True,
        ),
        engine_key=ENGINE_KEY,
    )
    got = await store.ais.get(customer_id, ai.id)
    assert got == ai
    assert got.model_dump(include=set(SEED_AI) - {"parameter"}) == {k: v for k, v in SEED_AI.items() if k != "parameter"}
    assert got.parameter == {"language": "en-US", "nested": {"a": [1, 2]}}
    assert got.vad_config == VadConfig(confidence=0.5, stop_secs=0.8)


async def test_engine_key_is_encrypted_at_rest(store: Store, shared_url: str, backend: str) -> None:
    customer_id = await new_customer(store)
    ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI), engine_key=ENGINE_KEY)

    async with store.db.read() as conn:
        stored = (await conn.execute(select(ais.c.engine_key_enc).where(ais.c.id == ai.id))).scalar_one()
        if backend == "postgresql":  # the whole row as PostgreSQL prints it
            whole = (await conn.execute(text("SELECT ais::text FROM ais WHERE id = :id"), {"id": ai.id})).scalar_one()
        else:
            whole = str((await conn.execute(text("SELECT * FROM ais WHERE id = :id"), {"id": ai.id})).one())
    assert ENGINE_KEY not in stored and ENGINE_KEY not in whole
    assert SecretBox([SECRET_KEY]).decrypt(stored, purpose="test").get_secret_value() == ENGINE_KEY
    if backend == "sqlite":  # nowhere in the database files either (main file and WAL)
        path = Path(shared_url.removeprefix("sqlite+aiosqlite:///"))
        for file in path.parent.glob(path.name + "*"):
            assert ENGINE_KEY.encode() not in file.read_bytes()

    secret = await store.ais.get_engine_key(customer_id, ai.id)
    assert isinstance(secret, SecretStr) and secret.get_secret_value() == ENGINE_KEY
    assert ENGINE_KEY not in repr(ai) + str(ai) + ai.model_dump_json() + repr(secret)
    assert not hasattr(ai, "engine_key")


async def test_engine_key_is_scoped_by_customer(store: Store) -> None:
    owner, intruder = await new_customer(store), await new_customer(store)
    ai = await store.ais.create(AI(customer_id=owner, **SEED_AI), engine_key=ENGINE_KEY)
    with pytest.raises(NotFoundError):
        await store.ais.get_engine_key(intruder, ai.id)


async def test_update_keeps_replaces_or_removes_the_key(store: Store) -> None:
    customer_id = await new_customer(store)
    ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI), engine_key=ENGINE_KEY)
    await store.ais.update(customer_id, ai.id, name="renamed")
    assert (await store.ais.get_engine_key(customer_id, ai.id)) == SecretStr(ENGINE_KEY)
    await store.ais.update(customer_id, ai.id, engine_key=SecretStr("sk-new"))
    assert (await store.ais.get_engine_key(customer_id, ai.id)) == SecretStr("sk-new")
    updated = await store.ais.update(customer_id, ai.id, engine_key="")
    assert await store.ais.get_engine_key(customer_id, ai.id) is None
    assert updated.revision == 4


async def test_the_key_never_reaches_the_logs(shared_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = await Store.open(shared_url, secret_keys=[SECRET_KEY], echo=True)  # SQL and parameters logged
    try:
        customer_id = await new_customer(store)
        ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI), engine_key=ENGINE_KEY,
                                    tool_secrets={"lookup_order": TOOL_SECRET})
        await store.ais.update(customer_id, ai.id, engine_key=ENGINE_KEY + "2", tool_secrets={"x": TOOL_SECRET})
        await store.ais.get_engine_key(customer_id, ai.id)
        await store.ais.get_tool_secrets(customer_id, ai.id)
    finally:
        await store.aclose()
    assert "INSERT INTO ais" in caplog.text  # the SQL log was on
    assert ENGINE_KEY not in caplog.text and TOOL_SECRET not in caplog.text


async def test_a_wrong_key_fails_at_open(empty_url: str) -> None:
    first = await Store.open(empty_url, secret_keys=[SECRET_KEY])
    customer_id = await new_customer(first)
    await first.ais.create(AI(customer_id=customer_id, **SEED_AI), engine_key=ENGINE_KEY)
    await first.aclose()
    with pytest.raises(EncryptionKeyMismatchError, match=r"store\.secret_key is not the key"):
        await Store.open(empty_url, secret_keys=[generate_secret_key()])


async def test_keys_rotate(empty_url: str) -> None:
    old, new = SECRET_KEY, generate_secret_key()
    first = await Store.open(empty_url, secret_keys=[old])
    customer_id = await new_customer(first)
    ai = await first.ais.create(AI(customer_id=customer_id, **SEED_AI), engine_key=ENGINE_KEY)
    await first.aclose()

    both = await Store.open(empty_url, secret_keys=[new, old])  # the new key first
    assert (await both.ais.get_engine_key(customer_id, ai.id)) == SecretStr(ENGINE_KEY)
    assert await both.rotate_secrets() == 1
    assert await both.rotate_secrets() == 0
    await both.aclose()

    only_new = await Store.open(empty_url, secret_keys=[new])
    try:
        assert (await only_new.ais.get_engine_key(customer_id, ai.id)) == SecretStr(ENGINE_KEY)
    finally:
        await only_new.aclose()


async def test_a_secret_from_another_key_is_a_clear_error(store: Store) -> None:
    customer_id = await new_customer(store)
    ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI))
    foreign = SecretBox([generate_secret_key()]).encrypt(ENGINE_KEY, purpose="test")
    async with store.db.write() as conn:
        await conn.execute(ais.update().where(ais.c.id == ai.id).values(engine_key_enc=foreign))
    with pytest.raises(SecretDecryptError, match=f"engine_key of ai {ai.id} does not decrypt"):
        await store.ais.get_engine_key(customer_id, ai.id)


async def test_without_a_key_secrets_cannot_be_stored(shared_url: str) -> None:
    async with await Store.open(shared_url) as store:
        customer_id = await new_customer(store)
        with pytest.raises(EncryptionKeyMissingError, match=r"ai engine_key needs store\.secret_key"):
            await store.ais.create(AI(customer_id=customer_id, **SEED_AI), engine_key=ENGINE_KEY)
        ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI))  # no key to keep: fine
        assert await store.ais.get_engine_key(customer_id, ai.id) is None


@pytest.mark.parametrize("key", ["short", "x" * 44, "", generate_secret_key()[:-4]])
async def test_an_invalid_key_is_refused_before_opening(key: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidEncryptionKeyError, match="secret key #1 is not 32 bytes") as error:
        await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", secret_keys=[key])
    assert not key or key not in str(error.value)
    assert not (tmp_path / "x.db").exists()


FUNCTION_TOOL = {"type": "function", "function": {"name": "lookup_order"}, "server": {"url": "http://127.0.0.1:9/t"}}


async def test_tool_secrets_round_trip_encrypted_at_rest(store: Store, backend: str) -> None:
    customer_id = await new_customer(store)
    ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI, tools=[FUNCTION_TOOL]),
                                tool_secrets={"lookup_order": SecretStr(TOOL_SECRET), "empty": ""})
    secrets = await store.ais.get_tool_secrets(customer_id, ai.id)
    assert secrets == {"lookup_order": SecretStr(TOOL_SECRET)}  # an empty secret is no secret
    assert TOOL_SECRET not in repr(secrets) + repr(ai) + ai.model_dump_json()
    async with store.db.read() as conn:
        stored = (await conn.execute(select(ais.c.tool_secrets_enc).where(ais.c.id == ai.id))).scalar_one()
        if backend == "postgresql":
            whole = (await conn.execute(text("SELECT ais::text FROM ais WHERE id = :id"), {"id": ai.id})).scalar_one()
        else:
            whole = str((await conn.execute(text("SELECT * FROM ais WHERE id = :id"), {"id": ai.id})).one())
    assert TOOL_SECRET not in stored and TOOL_SECRET not in whole
    assert TOOL_SECRET in SecretBox([SECRET_KEY]).decrypt(stored, purpose="test").get_secret_value()
    plain = await store.ais.create(AI(customer_id=customer_id, **SEED_AI))
    assert await store.ais.get_tool_secrets(customer_id, plain.id) == {}
    with pytest.raises(NotFoundError):
        await store.ais.get_tool_secrets(await new_customer(store), ai.id)


async def test_update_keeps_replaces_or_removes_tool_secrets(store: Store) -> None:
    customer_id = await new_customer(store)
    ai = await store.ais.create(AI(customer_id=customer_id, **SEED_AI, tools=[FUNCTION_TOOL]), engine_key=ENGINE_KEY,
                                tool_secrets={"lookup_order": TOOL_SECRET})
    await store.ais.update(customer_id, ai.id, name="renamed", engine_key="sk-other")
    assert await store.ais.get_tool_secrets(customer_id, ai.id) == {"lookup_order": SecretStr(TOOL_SECRET)}
    await store.ais.update(customer_id, ai.id, tool_secrets={"lookup_order": "fresh"})
    assert await store.ais.get_tool_secrets(customer_id, ai.id) == {"lookup_order": SecretStr("fresh")}
    assert await store.ais.get_engine_key(customer_id, ai.id) == SecretStr("sk-other")  # untouched
    await store.ais.update(customer_id, ai.id, tool_secrets={})
    assert await store.ais.get_tool_secrets(customer_id, ai.id) == {}


def test_the_record_never_carries_a_tool_secret() -> None:
    tool = {**FUNCTION_TOOL, "server": {"url": "http://127.0.0.1:9/t", "secret": TOOL_SECRET}}
    with pytest.raises(ValueError, match=r"tools\[0\].server.secret: tool secrets are write-only") as error:
        AI(customer_id="00000000-0000-0000-0000-000000000000", tools=[tool])
    assert TOOL_SECRET not in str(error.value).split("[type=")[0]


async def test_tool_secrets_and_agent_headers_rotate_with_the_keys(empty_url: str) -> None:
    old, new = SECRET_KEY, generate_secret_key()
    first = await Store.open(empty_url, secret_keys=[old])
    customer_id = await new_customer(first)
    ai = await first.ais.create(AI(customer_id=customer_id, **SEED_AI, tools=[FUNCTION_TOOL]),
                                tool_secrets={"lookup_order": TOOL_SECRET})
    headers = [{"Authorization": "Bearer hook-credential"}]
    agent = await first.agents.create_with_headers(Agent(customer_id=customer_id, ai_id=ai.id), headers)
    await first.aclose()

    both = await Store.open(empty_url, secret_keys=[new, old])
    assert await both.rotate_secrets() == 2  # the tool secrets and the agent's webhook headers
    assert await both.rotate_secrets() == 0
    await both.aclose()
    async with await Store.open(empty_url, secret_keys=[new]) as only_new:
        assert await only_new.ais.get_tool_secrets(customer_id, ai.id) == {"lookup_order": SecretStr(TOOL_SECRET)}
        assert await only_new.agents.get_headers(customer_id, agent.id) == headers

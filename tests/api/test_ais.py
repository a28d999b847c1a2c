"""/v1.0/ais: engine_key is write-only: never in responses, logs or the database in clear."""
from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text

from flowengine.store import Store
from tests.api.conftest import Tenant

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

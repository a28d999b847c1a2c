"""The request-body limit: 413 with VoIPBIN's ErrorResponse past api.max_body_bytes, declared or streamed,
and the body is never read past the limit."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.config import ConfigError, load_config
from flowengine.store import Store
from tests.api.conftest import new_tenant
from tests.store.conftest import SECRET_KEY

LIMIT = 64 * 1024
CHUNK = 4096


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A tenant's JSON client of an app over a fresh SQLite store, the limit set to LIMIT."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", secret_keys=[SECRET_KEY])
    try:
        app = create_app(ApiDeps(store=store, admin_key=SecretStr("a" * 30), max_body_bytes=LIMIT))
        tenant = await new_tenant(store)
        headers = {**tenant.headers, "Content-Type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     headers=headers) as http:
            yield http
    finally:
        await store.aclose()


def flow_body(size: int) -> bytes:
    """A valid flow whose JSON is at least `size` bytes (a long talk text)."""
    doc = {"name": "big", "actions": [{"type": "talk", "option": {"text": "x" * size}}]}
    return json.dumps(doc).encode()


class Chunks:
    """A streamed body that counts how much of it the server pulled."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            chunk = self.body[start:start + CHUNK]
            self.sent += len(chunk)
            yield chunk


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["reason"] == "REQUEST_BODY_TOO_LARGE"
    assert str(LIMIT) in error["message"] and error["request_id"]


async def test_a_body_under_the_limit_is_served(client: httpx.AsyncClient) -> None:
    http = client
    ok = await http.post("/v1.0/flows", content=flow_body(LIMIT // 2))
    assert ok.status_code == 200, ok.text
    streamed = await http.post("/v1.0/flows", content=Chunks(flow_body(LIMIT // 2)).__aiter__(),
                               )
    assert streamed.status_code == 200, streamed.text


async def test_a_declared_length_past_the_limit_is_refused_unread(client: httpx.AsyncClient) -> None:
    http = client
    body = Chunks(flow_body(50 * LIMIT))
    refused = await http.post("/v1.0/flows", content=body.__aiter__(),
                              headers={"Content-Length": str(len(body.body))})
    assert_too_large(refused)
    assert body.sent <= CHUNK  # refused on the header: at most what the transport had already pulled
    assert (await http.get("/v1.0/flows")).json()["result"] == []


async def test_a_chunked_body_is_counted_and_refused_at_the_limit(client: httpx.AsyncClient) -> None:
    http = client
    body = Chunks(flow_body(50 * LIMIT))
    refused = await http.post("/v1.0/flows", content=body.__aiter__())
    assert_too_large(refused)
    assert LIMIT < body.sent <= LIMIT + CHUNK  # read up to the first chunk past the limit, no further
    assert (await http.get("/v1.0/flows")).json()["result"] == []


def test_the_limit_is_configurable(tmp_path: Path) -> None:
    assert load_config(need_asterisk=False).api.max_body_bytes == 1 << 20
    cfg = load_config(environ={"FLOWENGINE_API__MAX_BODY_BYTES": "2000000"}, need_asterisk=False)
    assert cfg.api.max_body_bytes == 2_000_000
    with pytest.raises(ConfigError, match=r"api\.max_body_bytes"):
        load_config(environ={"FLOWENGINE_API__MAX_BODY_BYTES": "10"}, need_asterisk=False)

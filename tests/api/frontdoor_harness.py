"""A whole engine (ARI app, flows, AI calls, REST API) on the session's private Asterisk, for front-door tests.

Numbers dialled as `tel` go to the test context flowengine-frontdoor-test (tests/api/frontdoor_dialplan.py);
the LLM is the local OpenAI-compatible server (tests/fakes/openai_server.py); speech is the offline stack."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from flowengine.config import Config
from flowengine.runtime import Engine
from flowengine.store import Customer, generate_secret_key
from tests.conftest import Asterisk
from tests.fakes.openai_server import FakeOpenAIServer


@dataclass
class Running:
    engine: Engine
    llm: FakeOpenAIServer
    base_url: str
    tokens: dict[str, str]  # tenant name -> bearer token

    def headers(self, tenant: str = "A") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[tenant]}"}


@asynccontextmanager
async def running_engine(asterisk: Asterisk, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    info = asterisk.info
    async with FakeOpenAIServer() as llm:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-secret")
        config = Config.model_validate({
            "asterisk": {"ari_url": info.ari_url, "ari_username": info.ari_username,
                         "ari_password": info.ari_password, "app": info.app},
            "speech": {"cache_dir": str(tmp / "speech")},
            "outbound": {"endpoints": {"tel": "Local/{target}@flowengine-frontdoor-test"}, "dial_timeout_s": 20},
            "api": {"enabled": True, "port": 0},
            "store": {"url": f"sqlite+aiosqlite:///{tmp / 'engine.db'}", "secret_key": generate_secret_key()},
            "flows_dir": str(tmp / "flows"),
        })
        (tmp / "flows").mkdir(exist_ok=True)
        engine = Engine(config)
        await engine.start()
        try:
            assert engine.store is not None and engine.api is not None
            tokens: dict[str, str] = {}
            for name in ("A", "B"):
                customer = await engine.store.customers.create(Customer(name=name))
                issued = await engine.store.accesskeys.issue(customer.id, name="test key")
                tokens[name] = issued.token.get_secret_value()
            yield Running(engine, llm, f"http://127.0.0.1:{engine.api.port}", tokens)
        finally:
            await engine.aclose()


@dataclass
class Receiver:
    """A local webhook receiver: records every request; `answer` gives the body answered per path."""

    received: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)  # method, path, headers, json
    answer: dict[str, Any] = field(default_factory=dict)
    url: str = ""

    def bodies(self, path: str = "") -> list[Any]:
        return [body for _, p, _, body in self.received if not path or p == path]


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()

    async def handle(request: web.Request) -> web.Response:
        text = await request.text()
        body = json.loads(text) if text else None
        found.received.append((request.method, request.path, dict(request.headers), body))
        reply = found.answer.get(request.path, {"ok": True})
        return web.json_response(reply)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield found
    finally:
        await runner.cleanup()


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll an async `predicate` until true (bounded in time); fail naming `what`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(0.2)

"""Webhook delivery fixtures: a database of its own per test (the outbox is one table for every customer),
on SQLite and PostgreSQL, and a receiver on loopback that can be down."""
from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flowengine.api.webhooks import SIGNATURE_HEADER, DeliveryPolicy
from flowengine.store import Customer, Store
from tests.store import conftest as store_fixtures

empty_url = store_fixtures.empty_url

FAST = DeliveryPolicy(max_age_s=120.0, backoff_min_s=0.05, backoff_max_s=0.5, timeout_s=2.0, poll_s=0.5)
"""Hours compressed: the backoff of the tests (0.05 s doubling to 0.5 s)."""


@dataclass
class Hit:
    path: str
    body: dict[str, Any]
    raw: bytes
    signature: str


@dataclass
class Receiver:
    """A webhook receiver on a fixed loopback port, started and stopped at will (down: connection refused)."""

    port: int
    hits: list[Hit] = field(default_factory=list)
    hang: set[str] = field(default_factory=set)  # paths that answer only after the sender gave up
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def ids(self, path: str) -> list[str]:
        return [h.body["data"]["id"] for h in self.hits if h.path == path]

    async def _hook(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if path in self.hang:
            await asyncio.Event().wait()  # until the sender's timeout cuts the request
        raw = await request.read()
        self.hits.append(Hit(path, json.loads(raw), raw, request.headers.get(SIGNATURE_HEADER, "")))
        return web.Response()

    async def up(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path}", self._hook)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """Down until the test calls `up()`."""
    found = Receiver(free_port())
    try:
        yield found
    finally:
        await found.down()


@pytest.fixture
async def outbox_store(empty_url: str) -> AsyncIterator[Store]:
    store = await Store.open(empty_url, secret_keys=[store_fixtures.SECRET_KEY])
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def hooked_customer(store: Store, receiver: Receiver, name: str, secret: str = "") -> str:
    customer = Customer(name=name, webhook_uri=receiver.url(name), webhook_method="POST")
    return (await store.customers.create(customer, webhook_secret=secret or None)).id

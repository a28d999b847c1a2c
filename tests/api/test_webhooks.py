"""Webhooks: signed with the customer's secret, retried on 5xx, delivered off the publisher's path."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import aiohttp
from aiohttp import web

from flowengine.api.webhooks import SIGNATURE_HEADER, DeliveryPolicy, WebhookDispatcher, WebhookSender, sign
from flowengine.events import EventBus
from flowengine.store import Customer, Store


def test_sign() -> None:
    body = b'{"type":"call_hangup","data":{}}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret", body) == f"sha256={expected}"


async def test_failing_receiver_is_retried_without_blocking(store: Store) -> None:
    received: list[tuple[int, bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        received.append((len(received), body, request.headers.get(SIGNATURE_HEADER, "")))
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    customer = await store.customers.create(
        Customer(name="hooked", webhook_uri=f"http://127.0.0.1:{port}/hook", webhook_method="POST"),
        webhook_secret="s3cret")
    bus = EventBus()
    async with aiohttp.ClientSession() as http:
        sender = WebhookSender(http)
        dispatcher = WebhookDispatcher(store, sender, bus, policy=DeliveryPolicy(backoff_min_s=0.05))
        try:
            bus.emit("call_hangup", customer.id, {"id": "c1", "status": "hangup"})
            assert dispatcher.pending == 1  # publishing only enqueued: nothing was sent yet
            await dispatcher.drain()
        finally:
            await dispatcher.aclose()
            await runner.cleanup()
    assert len(received) == 2
    body = received[1][1]
    assert json.loads(body) == {"type": "call_hangup", "data": {"id": "c1", "status": "hangup"}}
    assert received[1][2] == sign("s3cret", body)
    worker = dispatcher.worker
    assert (worker.failures, worker.retries, worker.delivered) == (0, 1, 1)
    await asyncio.sleep(0)

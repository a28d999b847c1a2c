"""Webhooks lose nothing: a receiver down for a while gets every event once it is back, in order, exactly
once; a restart in the middle loses nothing; one customer's dead receiver does not delay another's; past
the horizon a row is given up and kept; two nodes drain one outbox; /metrics shows the backlog."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re

import aiohttp
import httpx
import pytest
from pydantic import SecretStr

from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.api.webhooks import WebhookDispatcher, WebhookSender, sign
from flowengine.events import EventBus
from flowengine.store import Store
from tests.api.webhooks.conftest import FAST, Receiver, hooked_customer
from tests.store.conftest import SECRET_KEY
from tests.support import eventually

EVENTS = 20


def emit(bus: EventBus, customer: str, numbers: range) -> None:
    for n in numbers:
        bus.emit("call_hangup", customer, {"id": f"c{n}", "status": "hangup"})


async def test_a_receiver_down_for_a_while_gets_every_event_in_order_once(
        outbox_store: Store, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    customer = await hooked_customer(outbox_store, receiver, "acme", secret="s3cret")
    bus = EventBus()
    dispatcher = WebhookDispatcher(outbox_store, WebhookSender(http), bus, policy=FAST)
    try:
        async with asyncio.timeout(30):
            emit(bus, customer, range(EVENTS))
            await eventually(lambda: dispatcher.worker.retries >= 6, what="several failed attempts")
            assert (await outbox_store.outbox.backlog()).count == EVENTS  # nothing dropped while down
            assert not any("s3cret" in repr(row) for row in await outbox_store.outbox.rows())  # never stored
            assert receiver.hits == []
            await receiver.up()
            await dispatcher.drain(timeout=20)
            await asyncio.sleep(0.3)  # a duplicate would arrive now
    finally:
        await dispatcher.aclose()
    assert receiver.ids("acme") == [f"c{n}" for n in range(EVENTS)]
    assert all(hit.signature == sign("s3cret", hit.raw) for hit in receiver.hits)  # signed at send time
    assert (dispatcher.worker.delivered, dispatcher.worker.failures) == (EVENTS, 0)
    assert (await outbox_store.outbox.backlog()).count == 0


async def test_a_restart_in_the_middle_loses_nothing(
        empty_url: str, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    first_store = await Store.open(empty_url, secret_keys=[SECRET_KEY])
    customer = await hooked_customer(first_store, receiver, "acme")
    bus = EventBus()
    first = WebhookDispatcher(first_store, WebhookSender(http), bus, policy=FAST)
    try:
        emit(bus, customer, range(10))
        await eventually(lambda: first.worker.retries >= 3, what="failed attempts before the restart")
    finally:
        await first.aclose()  # the engine stops; what it accepted stays in the outbox
        await first_store.aclose()
    second_store = await Store.open(empty_url, secret_keys=[SECRET_KEY])  # the next engine
    bus = EventBus()
    second = WebhookDispatcher(second_store, WebhookSender(http), bus, policy=FAST)
    try:
        async with asyncio.timeout(30):
            emit(bus, customer, range(10, EVENTS))
            await receiver.up()
            await eventually(lambda: len(receiver.hits) >= EVENTS, timeout=20, what="every event")
            await eventually(lambda: _no_backlog(second_store), what="an empty outbox")
            await asyncio.sleep(0.3)
    finally:
        await second.aclose()
        await second_store.aclose()
    assert receiver.ids("acme") == [f"c{n}" for n in range(EVENTS)]  # the first engine's ten first, once


async def _no_backlog(store: Store) -> bool:
    return (await store.outbox.backlog()).count == 0


async def test_a_customer_whose_receiver_hangs_does_not_delay_another(
        outbox_store: Store, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    stuck = await hooked_customer(outbox_store, receiver, "stuck")
    fine = await hooked_customer(outbox_store, receiver, "fine")
    receiver.hang.add("stuck")  # accepts the connection, never answers: each attempt lasts the whole timeout
    await receiver.up()
    bus = EventBus()
    policy = dataclasses.replace(FAST, timeout_s=5.0)
    dispatcher = WebhookDispatcher(outbox_store, WebhookSender(http), bus, policy=policy)
    try:
        emit(bus, stuck, range(5))
        await asyncio.sleep(0.2)  # the stuck customer's first attempt is under way
        started = asyncio.get_running_loop().time()
        emit(bus, fine, range(5))
        await eventually(lambda: len(receiver.ids("fine")) == 5, timeout=4, what="the other customer's events")
        took = asyncio.get_running_loop().time() - started
    finally:
        await dispatcher.aclose()
    assert receiver.ids("fine") == [f"c{n}" for n in range(5)]
    assert took < policy.timeout_s  # not queued behind the stuck receiver's attempt
    assert receiver.ids("stuck") == []
    assert (await outbox_store.outbox.backlog()).count == 5  # the stuck ones wait, none lost


async def test_past_the_horizon_a_row_is_given_up_kept_and_frees_its_customer(
        outbox_store: Store, receiver: Receiver, http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    customer = await hooked_customer(outbox_store, receiver, "acme")
    bus = EventBus()
    policy = dataclasses.replace(FAST, max_age_s=0.5)
    dispatcher = WebhookDispatcher(outbox_store, WebhookSender(http), bus, policy=policy)
    try:
        with caplog.at_level(logging.WARNING, logger="flowengine.api.webhooks"):
            emit(bus, customer, range(1))
            await eventually(lambda: dispatcher.worker.failures == 1, timeout=10, what="the give-up")
        await receiver.up()
        emit(bus, customer, range(1, 2))
        await dispatcher.drain(timeout=10)
    finally:
        await dispatcher.aclose()
    [failed] = await outbox_store.outbox.rows(status="failed")
    assert failed.body == '{"type":"call_hangup","data":{"id":"c0","status":"hangup"}}'
    assert failed.attempts >= 2 and "ClientConnectorError" in failed.last_error
    assert receiver.ids("acme") == ["c1"]
    assert any("given up" in r.getMessage() and str(failed.id) in r.getMessage() for r in caplog.records)


async def test_two_nodes_drain_one_outbox_once_and_in_order(
        empty_url: str, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    stores = [await Store.open(empty_url, secret_keys=[SECRET_KEY]) for _ in range(2)]
    customers = [await hooked_customer(stores[0], receiver, name) for name in ("a", "b", "c")]
    buses = [EventBus(), EventBus()]
    nodes = [WebhookDispatcher(s, WebhookSender(http), b, policy=FAST) for s, b in zip(stores, buses, strict=True)]
    try:
        async with asyncio.timeout(30):
            for n in range(EVENTS):  # a and b's calls run on the first node, c's on the second
                for customer, bus in zip(customers, (buses[0], buses[0], buses[1]), strict=True):
                    bus.emit("call_hangup", customer, {"id": f"c{n}"})
            await eventually(lambda: all(node.pending == 0 for node in nodes), what="the events written")
            await receiver.up()
            await eventually(lambda: len(receiver.hits) >= 3 * EVENTS, timeout=20, what="every event")
            await asyncio.sleep(0.3)
    finally:
        for node in nodes:
            await node.aclose()
        for store in stores:
            await store.aclose()
    for name in ("a", "b", "c"):  # each delivered by whichever node claimed it, in order, once
        assert receiver.ids(name) == [f"c{n}" for n in range(EVENTS)]
    assert sum(node.worker.delivered for node in nodes) == 3 * EVENTS


async def test_metrics_show_the_backlog_and_the_oldest_age(
        outbox_store: Store, receiver: Receiver, http: aiohttp.ClientSession) -> None:
    customer = await hooked_customer(outbox_store, receiver, "acme")
    bus = EventBus()
    dispatcher = WebhookDispatcher(outbox_store, WebhookSender(http), bus, policy=FAST)
    app = create_app(ApiDeps(store=outbox_store, events=bus, admin_key=SecretStr("k" * 30), webhooks=dispatcher))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            emit(bus, customer, range(3))
            await eventually(lambda: dispatcher.worker.retries >= 2, what="failed attempts")
            await asyncio.sleep(0.3)
            down = (await client.get("/metrics")).text
            await receiver.up()
            await dispatcher.drain(timeout=10)
            back = (await client.get("/metrics")).text
    finally:
        await dispatcher.aclose()
    assert "# TYPE flowengine_webhook_backlog gauge" in down
    assert _value(down, "flowengine_webhook_backlog") == 3
    assert _value(down, "flowengine_webhook_oldest_undelivered_seconds") >= 0.3
    assert _value(down, "flowengine_webhook_retries_total") >= 2
    assert "# TYPE flowengine_webhook_deliveries_total counter" in back
    assert _value(back, "flowengine_webhook_backlog") == 0
    assert _value(back, "flowengine_webhook_oldest_undelivered_seconds") == 0
    assert _value(back, "flowengine_webhook_deliveries_total") == 3
    assert _value(back, "flowengine_webhook_failures_total") == 0


def _value(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))

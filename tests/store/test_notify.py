"""The notification bus: messages between two nodes' stores, request/reply, size limits, reconnection."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from flowengine.store import Store
from flowengine.store.noderequests import NodeRequests, NodeUnreachableError, RemoteFailureError
from flowengine.store.notify import MAX_PAYLOAD_BYTES, Message, MessageError, NotifyBus, node_channel
from tests.store.conftest import SECRET_KEY
from tests.support import eventually


@pytest.fixture
async def two_stores(shared_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two nodes' stores on one database."""
    a = await Store.open(shared_url, secret_keys=[SECRET_KEY])
    b = await Store.open(shared_url, secret_keys=[SECRET_KEY])
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_message_reaches_every_listener_of_its_channel_in_order(two_stores: tuple[Store, Store]) -> None:
    a, b = (NotifyBus(s.db) for s in two_stores)
    try:
        first, second = await b.listen("test_order"), await a.listen("test_order")
        other = await b.listen("test_elsewhere")
        for n in range(20):
            await a.send("test_order", Message("tick", {"n": n, "text": "é"}, sender="a"))
        for sub in (first, second):
            got = [await asyncio.wait_for(sub.get(), 5) for _ in range(20)]
            assert [m.body["n"] for m in got] == list(range(20))
            assert {(m.type, m.sender, m.body["text"]) for m in got} == {("tick", "a", "é")}
        await first.close()
        await a.send("test_order", Message("tick", {"n": 20}))
        assert (await asyncio.wait_for(second.get(), 5)).body["n"] == 20
        await asyncio.sleep(0.2)
        assert first._queue.empty() and other._queue.empty()
    finally:
        await a.aclose()
        await b.aclose()


async def test_what_cannot_travel_is_refused_before_sending(two_stores: tuple[Store, Store]) -> None:
    bus = NotifyBus(two_stores[0].db)
    try:
        with pytest.raises(MessageError, match="limit is 7999"):
            await bus.send("test_big", Message("big", {"x": "y" * MAX_PAYLOAD_BYTES}))
        with pytest.raises(MessageError, match="lower-case"):
            await bus.listen("Bad-Channel")
        with pytest.raises(MessageError, match="not a bus message"):
            Message.decode('["type"]')
        assert node_channel("node A/1") != node_channel("node A/2")
        assert len(node_channel("x" * 500)) <= 63
    finally:
        await bus.aclose()


async def test_a_request_is_answered_by_the_node_it_names(two_stores: tuple[Store, Store]) -> None:
    buses = [NotifyBus(s.db) for s in two_stores]
    a, b = NodeRequests(buses[0], "node-a"), NodeRequests(buses[1], "node-b")

    async def double(message: Message) -> dict[str, object]:
        return {"twice": message.body["n"] * 2, "by": "node-b", "from": message.sender}

    async def broken(message: Message) -> dict[str, object]:
        raise ValueError("no such thing here")

    b.handle("double", double)
    b.handle("broken", broken)
    try:
        await a.start()
        await b.start()
        results = await asyncio.gather(*(a.request("node-b", "double", {"n": n}, timeout_s=5) for n in range(10)))
        assert results == [{"twice": 2 * n, "by": "node-b", "from": "node-a"} for n in range(10)]
        with pytest.raises(RemoteFailureError, match="ValueError: no such thing here"):
            await a.request("node-b", "broken", {}, timeout_s=5)
        with pytest.raises(RemoteFailureError, match=r"serves no 'triple' requests"):
            await a.request("node-b", "triple", {}, timeout_s=5)
        with pytest.raises(NodeUnreachableError, match=r"node-c did not answer double within 0\.3 s"):
            await a.request("node-c", "double", {"n": 1}, timeout_s=0.3)
        assert b.served == 12 and a.served == 0
    finally:
        for node in (a, b):
            await node.aclose()
        for bus in buses:
            await bus.aclose()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_lost_listening_connection_comes_back_and_listens_again(two_stores: tuple[Store, Store]) -> None:
    sender, listener = NotifyBus(two_stores[0].db), NotifyBus(two_stores[1].db)
    try:
        sub = await listener.listen("test_reconnect")
        pid = listener._conn.get_server_pid()
        async with two_stores[0].db.write() as conn:  # what a database restart or a network cut does to it
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await eventually(lambda: listener.reconnects >= 1 and listener.connected.is_set(), timeout=10,
                         what="the bus reconnected")
        assert listener._conn.get_server_pid() != pid
        await sender.send("test_reconnect", Message("after"))
        assert (await asyncio.wait_for(sub.get(), 5)).type == "after"
    finally:
        await sender.aclose()
        await listener.aclose()

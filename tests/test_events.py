"""The event bus: listeners get events in order, a failing listener harms no one, streams are bounded."""
from __future__ import annotations

import logging

import pytest

from flowengine.events import Event, EventBus


def test_listeners_receive_in_order_and_unsubscribe() -> None:
    bus = EventBus()
    seen: list[str] = []
    stop = bus.subscribe(lambda e: seen.append(e.type))
    bus.emit("call_created", "c1", {"id": "x"})
    bus.emit("call_hangup", "c1", {"id": "x"})
    stop()
    bus.emit("call_deleted", "c1", {"id": "x"})
    assert seen == ["call_created", "call_hangup"]


def test_failing_listener_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="flowengine.events"):
        bus.emit("aimessage_created", "c1", {"id": "m"}, aicall_id="a")
    assert [e.extra["aicall_id"] for e in seen] == ["a"]
    assert "failed on aimessage_created" in caplog.text


async def test_stream_filters_and_drops_oldest_when_full() -> None:
    bus = EventBus()
    async with bus.stream(maxsize=2) as events:
        for n in range(3):
            bus.emit("call_updated", "c1", {"n": n})
        assert events.dropped == 1
        got = await events.next("call_updated", where=lambda e: e.data["n"] == 2, timeout=1)
        assert got.data["n"] == 2
    bus.emit("call_updated", "c1", {"n": 9})
    assert events.queue.empty()

"""The ARI app ends a call on the far end's hangup request, before StasisEnd (recorded events, no Asterisk)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from flowengine.asterisk.app import AriApp, Call
from flowengine.asterisk.ari import events as ev
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.routing import RouteTable

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ari"


def recorded(name: str, **changes: Any) -> ev.Event:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(changes)
    return ev.parse_event(data)


@pytest.mark.parametrize(("soft", "ends"), [(False, True), (True, False)])
async def test_a_hard_hangup_request_ends_the_call_at_once(soft: bool, ends: bool) -> None:
    client = AriClient("http://127.0.0.1:1", "u", "p", "flowengine")  # never started: events are fed by hand
    calls: list[Call] = []

    async def handler(call: Call) -> None:
        calls.append(call)
        await call.ended.wait()

    app = AriApp(client, RouteTable({}, "main"), handler)
    start = recorded("StasisStart")
    assert isinstance(start, ev.StasisStart)
    client.hub.dispatch(start)
    await asyncio.sleep(0)
    [call] = calls
    request = recorded("ChannelHangupRequest", soft=soft, channel=json.loads(
        (FIXTURES / "StasisStart.json").read_text())["channel"])
    client.hub.dispatch(request)
    assert call.ended.is_set() is ends  # the far end's request (soft: ours, a redirect) ends it, StasisEnd or not
    client.hub.dispatch(recorded("StasisEnd", channel=json.loads((FIXTURES / "StasisStart.json").read_text())["channel"]))
    assert call.ended.is_set()
    await app.aclose(hangup=False)
    await client.aclose()

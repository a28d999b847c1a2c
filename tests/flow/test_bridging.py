"""connect and call on real calls: two parties who hear each other; new calls running a flow."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowengine.asterisk.ari.client import AriClient
from tests.conftest import Asterisk
from tests.flow.calls import flow_harness, place_call, speech_seconds
from tests.support import eventually, hangups_answered_late


async def test_connect_bridges_two_parties_who_hear_each_other(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"id": "dial", "type": "connect", "option": {
                "destinations": [{"type": "extension", "target": "hear-a1"}], "relay_reason": True}},
            {"id": "never", "type": "variable_set", "option": {"key": "x", "value": "1"}},
        ]})
        caller = await place_call(ari, record=True)
        await h.wait_action("dial")
        await asyncio.sleep(1.0)  # bridged by now; the callee plays to the caller
        playback = await caller.leg.play("sound:tt-weasels")  # the caller speaks to the callee
        await playback.wait(10)
        af = await h.wait_ended(timeout=30)  # callee hangs up after its playback + 4 s
        assert af.ended_reason.startswith("connect: Local/hear-a1@flowengine-test-callee hung up")
        await eventually(lambda: asterisk.channels() == [], what="both parties hung up")
        spool = asterisk.instance.directory / "spool" / "recording"
        heard_by_caller = spool / f"{caller.recording}.wav"
        heard_by_callee = spool / "hear-a1-rx.wav"
        await eventually(lambda: heard_by_caller.exists() and heard_by_callee.exists(), what="recordings")
        assert speech_seconds(heard_by_caller) > 2.0  # tt-monkeys from the callee
        assert speech_seconds(heard_by_callee) > 1.0  # tt-weasels from the caller
        assert await ari.bridges.list() == []


async def test_connect_to_busy_destination_moves_on(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "dial", "type": "connect", "option": {"destinations": [{"type": "extension", "target": "busy"}]}},
            {"id": "after", "type": "variable_set", "option": {"key": "went", "value": "on"}},
        ]})
        await place_call(ari)
        af = await h.wait_ended(timeout=30)
        assert af.variables["went"] == "on" and af.ended_reason == "finished"
        await eventually(lambda: asterisk.channels() == [], what="no channels left")


async def test_connect_relays_no_answer_when_the_hangup_event_comes_first(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hangups_answered_late(monkeypatch)  # the call's end is seen while the relayed hangup's DELETE is pending
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "dial", "type": "connect", "option": {
                "destinations": [{"type": "extension", "target": "busy"}], "relay_reason": True}},
        ]})
        await place_call(ari)
        af = await h.wait_ended(timeout=30)
        assert af.ended_reason.startswith("connect: no destination answered") and "hangup relayed" in af.ended_reason
        await eventually(lambda: asterisk.channels() == [], what="no channels left")


async def test_call_action_starts_an_independent_call_running_a_flow(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"type": "call", "option": {"destinations": [{"type": "extension", "target": "flowcall"}],
                                        "actions": [{"type": "variable_set",
                                                     "option": {"key": "leg", "value": "${voipbin.call.direction}"}},
                                                    {"type": "sleep", "option": {"duration": 300}}]}},
            {"id": "after", "type": "variable_set", "option": {"key": "went", "value": "on"}},
        ]})
        await place_call(ari)
        first = await h.wait_ended(timeout=30)
        second = await h.wait_ended(2, timeout=30)
        by_flow = {af.variables.get("went") or af.variables.get("leg"): af for af in (first, second)}
        assert set(by_flow) == {"on", "outgoing"}
        assert by_flow["outgoing"].ended_reason == "finished"
        await eventually(lambda: asterisk.channels() == [], what="no channels left")


async def test_fetch_garbage_on_a_call_ends_with_reason_and_hangs_up(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    from aiohttp import web

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(status=200, text="{{{ not json")

    app = web.Application()
    app.router.add_post("/next", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/next"
    try:
        async with flow_harness(asterisk, ari, tmp_path) as h:
            h.flows.add({"id": "main", "actions": [
                {"type": "answer"}, {"id": "ask", "type": "fetch", "option": {"event_url": url}},
                {"type": "variable_set", "option": {"key": "x", "value": "1"}}]})
            await place_call(ari)
            af = await h.wait_ended(timeout=20)
            assert af.ended_reason.startswith(f"action 'ask' (fetch) failed: fetch {url}: response is not JSON")
            assert "x" not in af.variables
            await eventually(lambda: asterisk.channels() == [], what="call hung up cleanly")
    finally:
        await runner.cleanup()


async def test_confbridge_join_puts_any_number_of_callers_in_one_room(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    """Three callers join one room at the same moment: one join makes it, the others join it (no bridge
    type sent for an existing bridge), and all of them hear each other."""
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "join", "type": "confbridge_join", "option": {"confbridge_id": "room-three"}},
            {"id": "never", "type": "variable_set", "option": {"key": "x", "value": "1"}}]})
        callers = await asyncio.gather(*(place_call(ari, record=True) for _ in range(3)))
        await eventually(lambda: len(h.service.runners) == 3, what="three flows")

        async def in_room() -> bool:
            return len((await ari.bridges.get("room-three")).snapshot.channels) == 3

        await eventually(in_room, what="three callers in the room")
        assert [b.id for b in await ari.bridges.list()] == ["room-three"]
        await (await callers[0].leg.play("sound:tt-weasels")).wait(15)
        await (await callers[1].leg.play("sound:tt-somethingwrong")).wait(15)
        for caller in callers:
            await caller.hangup()
        for n in range(1, 4):
            assert (await h.wait_ended(n)).ended_reason == "hangup"
        await eventually(lambda: asterisk.channels() == [], what="all hung up")
        assert await ari.bridges.list() == []  # the last one out released the room
        spool = asterisk.instance.directory / "spool" / "recording"
        heard = [spool / f"{c.recording}.wav" for c in callers]
        await eventually(lambda: all(p.exists() for p in heard), what="recordings")
        assert speech_seconds(heard[0]) > 1.0  # the second caller
        assert speech_seconds(heard[1]) > 1.0  # the first
        assert speech_seconds(heard[2]) > speech_seconds(heard[0]) + 1.0  # both


async def test_confbridge_join_that_cannot_join_ends_the_flow_saying_why(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "join", "type": "confbridge_join", "option": {"confbridge_id": "no/such/room"}},
            {"id": "never", "type": "variable_set", "option": {"key": "x", "value": "1"}}]})
        await place_call(ari)
        af = await h.wait_ended(timeout=20)
        assert af.ended_reason.startswith("action 'join' (confbridge_join) failed: ARI POST /bridges/no/such/room")
        assert "x" not in af.variables
        await eventually(lambda: asterisk.channels() == [], what="call hung up")

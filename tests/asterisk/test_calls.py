"""Calls through the real Asterisk into the ARI app: routing, answer, play, DTMF, hangup, cleanup."""
from __future__ import annotations

import asyncio

from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.app import AriApp, Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDtmfReceived, StasisStart
from flowengine.asterisk.routing import RouteTable
from tests.conftest import Asterisk
from tests.support import eventually


def waiting_handler(calls: asyncio.Queue[Call]):  # type: ignore[no-untyped-def]
    async def handle(call: Call) -> None:
        await calls.put(call)
        await call.ended.wait()

    return handle


async def test_inbound_call_answer_play_dtmf_hangup(asterisk: Asterisk, ari: AriClient) -> None:
    calls: asyncio.Queue[Call] = asyncio.Queue()
    app = AriApp(ari, RouteTable({"1000": "menu"}, default_flow="main"), waiting_handler(calls))
    leg_id = "test-caller-leg"
    leg_events = ari.events(leg_id)
    try:
        caller_leg = await ari.channels.originate(
            "Local/1000@flowengine-inbound", formats="ulaw", channel_id=leg_id, caller_id="Alice <5550100>")
        call = await asyncio.wait_for(calls.get(), 10)
        assert call.dialed == "1000"
        assert call.route.flow_id == "menu" and call.route.reason == "number"
        assert call.channel.snapshot.caller.number == "5550100"

        events = call.channel.events()
        await call.channel.answer()
        await leg_events.wait_for(StasisStart, timeout=10)  # the calling leg joins once answered
        assert app.helpers_ignored == 1 and app.calls_started == 1

        playback = await call.channel.play("sound:beep")
        finished = await playback.wait(10)
        assert finished.state == "done" and finished.media_uri == "sound:beep"

        await caller_leg.send_dtmf("42#")
        digits = [(await events.wait_for(ChannelDtmfReceived, timeout=10)).digit for _ in range(3)]
        assert digits == ["4", "2", "#"]
        events.close()

        await call.channel.set_var("FLOWENGINE_TEST", "yes")
        deadline = asyncio.get_running_loop().time() + 5
        while await call.channel.get_var("FLOWENGINE_TEST") != "yes":
            assert asyncio.get_running_loop().time() < deadline, "variable never set"
            await asyncio.sleep(0.05)

        await caller_leg.hangup()
        await asyncio.wait_for(call.ended.wait(), 10)
        await eventually(lambda: not app.calls and app.active_tasks == 0, what="call task ended")
        await eventually(lambda: asterisk.channels() == [], what="no channels left")
    finally:
        leg_events.close()
        await app.aclose()
    # every closable per-channel subscription was closed
    assert ari.hub.channel_subscription_count == 0


async def test_stasis_flow_argument_pins_the_flow(asterisk: Asterisk, ari: AriClient) -> None:
    calls: asyncio.Queue[Call] = asyncio.Queue()
    app = AriApp(ari, RouteTable(default_flow="main"), waiting_handler(calls))
    try:
        leg = await ari.channels.originate("Local/sales-flow@flowengine-flow", formats="ulaw")
        call = await asyncio.wait_for(calls.get(), 10)
        assert call.route.flow_id == "sales-flow" and call.route.reason == "stasis-arg"
        await leg.hangup()
        await asyncio.wait_for(call.ended.wait(), 10)
        await eventually(lambda: app.active_tasks == 0)
    finally:
        await app.aclose()


async def test_handler_failure_hangs_up_the_caller(asterisk: Asterisk, ari: AriClient) -> None:
    started: asyncio.Queue[Call] = asyncio.Queue()

    async def broken(call: Call) -> None:
        await started.put(call)
        raise RuntimeError("handler bug")

    app = AriApp(ari, RouteTable(), broken)
    try:
        await ari.channels.originate("Local/1000@flowengine-inbound", formats="ulaw")
        await asyncio.wait_for(started.get(), 10)
        await eventually(lambda: app.active_tasks == 0 and not app.calls)
        await eventually(lambda: asterisk.channels() == [], what="caller hung up after handler failure")
    finally:
        await app.aclose()


async def test_engine_shutdown_hangs_up_calls_in_progress(asterisk: Asterisk, ari: AriClient) -> None:
    calls: asyncio.Queue[Call] = asyncio.Queue()
    app = AriApp(ari, RouteTable(), waiting_handler(calls))
    await ari.channels.originate("Local/1000@flowengine-inbound", formats="ulaw")
    call = await asyncio.wait_for(calls.get(), 10)
    await app.aclose()
    assert call.ended.is_set() and app.active_tasks == 0
    await eventually(lambda: asterisk.channels() == [], what="channels hung up on shutdown")


async def test_snoop_hold_music_and_mute_on_a_call(asterisk: Asterisk, ari: AriClient) -> None:
    calls: asyncio.Queue[Call] = asyncio.Queue()
    app = AriApp(ari, RouteTable(), waiting_handler(calls))
    try:
        leg = await ari.channels.originate("Local/1000@flowengine-inbound", formats="ulaw")
        call = await asyncio.wait_for(calls.get(), 10)
        await call.channel.answer()
        snoop = await call.channel.snoop(spy="in")
        assert snoop.snapshot.name.startswith("Snoop/")
        await eventually(lambda: app.helpers_ignored >= 1, what="snoop StasisStart ignored")
        assert app.calls_started == 1

        info = asterisk.info
        ami = AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret)
        await ami.connect()
        moh: list[tuple[str, str]] = []
        ami.subscribe("MusicOnHold*", lambda m: moh.append((str(m.get("Event")), str(m.get("Channel")))))
        try:
            await call.channel.start_moh()
            await call.channel.mute("in")
            await call.channel.unmute("in")
            await call.channel.stop_moh()
            name = call.channel.snapshot.name
            await eventually(lambda: ("MusicOnHoldStop", name) in moh, what="hold music started and stopped")
            assert moh[0] == ("MusicOnHoldStart", name)
        finally:
            await ami.aclose()

        assert await snoop.hangup()
        await leg.hangup()
        await asyncio.wait_for(call.ended.wait(), 10)
        await eventually(lambda: asterisk.channels() == [], what="no channels left")
    finally:
        await app.aclose()

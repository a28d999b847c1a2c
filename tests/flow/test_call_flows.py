"""Flows on real calls through the private Asterisk: IVR menu, speech heard, pause/resume, hangups."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.ari.client import AriClient
from flowengine.flow.activeflow import ActiveflowStatus
from tests.conftest import Asterisk
from tests.flow.calls import flow_harness, place_call, speech_seconds
from tests.support import eventually

MENU = {
    "id": "main",
    "actions": [
        {"id": "menu", "type": "talk", "option": {"text": "Press one for sales or two for support.",
                                                  "digits_handle": "next"}},
        {"id": "collect", "type": "digits_receive", "option": {"duration": 2500, "length": 1}},
        {"id": "route", "type": "branch", "option": {"default_target_id": "retry",
                                                     "target_ids": {"1": "sales", "2": "support"}}},
        {"id": "retry", "type": "goto", "option": {"target_id": "menu", "loop_count": 1}},
        {"id": "bye", "type": "hangup"},
        {"id": "sales", "type": "variable_set", "option": {"key": "went", "value": "sales"}, "next_id": "done"},
        {"id": "support", "type": "variable_set", "option": {"key": "went", "value": "support"}},
        {"id": "done", "type": "talk", "option": {"text": "Thank you, goodbye."}},
    ],
}


async def test_ivr_menu_branches_on_dtmf(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add(MENU)
        caller = await place_call(ari)
        await h.wait_action("menu")
        await caller.send("2")  # interrupts the menu prompt (digits_handle: next) and is kept
        af = await h.wait_ended()
        assert af.variables["went"] == "support"
        assert af.variables["voipbin.call.digits"] == ""  # branch clears what it read
        assert af.variables["voipbin.call.source.target"] == "5550199"
        assert af.ended_reason == "finished"
        ran = [a.id for a in af.executed_actions]
        assert ran[:3] == ["menu", "collect", "route"] and "sales" not in ran
        await eventually(lambda: asterisk.channels() == [], what="call hung up at the end of the flow")


async def test_ivr_menu_retry_loop_then_hangup(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add(MENU)
        await place_call(ari)
        af = await h.wait_ended(timeout=40)
        ran = [a.id for a in af.executed_actions] + [af.current_action.id]
        assert ran.count("menu") == 2 and ran.count("retry") == 2  # one jump back, then fall through
        assert ran[-1] == "bye" and af.ended_reason == "hangup action (normal)"
        await eventually(lambda: asterisk.channels() == [], what="no channels left")


async def test_talk_is_heard_by_the_caller(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with flow_harness(asterisk, ari, tmp_path, tts="piper") as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"type": "sleep", "option": {"duration": 300}},
            {"type": "talk", "option": {"text": "Hello. This is flowengine speaking to you on a real call."}},
        ]})
        caller = await place_call(ari, record=True)
        af = await h.wait_ended()
        assert af.ended_reason == "finished"
        await eventually(lambda: asterisk.channels() == [], what="call over")
        path = asterisk.instance.directory / "spool" / "recording" / f"{caller.recording}.wav"
        await eventually(path.exists, what="caller-side recording written")
        assert speech_seconds(path) > 1.5


async def test_pause_holds_the_cursor_with_music_and_resume_continues(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    info = asterisk.info
    ami = AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret)
    await ami.connect()
    moh: list[str] = []
    ami.subscribe("MusicOnHold*", lambda m: moh.append(str(m.get("Event"))))
    try:
        async with flow_harness(asterisk, ari, tmp_path) as h:
            h.flows.add({"id": "main", "actions": [
                {"type": "answer"},
                {"id": "long", "type": "play", "option": {"stream_urls": ["tt-monkeys"]}},
                {"id": "after", "type": "variable_set", "option": {"key": "resumed", "value": "yes"}},
            ]})
            caller = await place_call(ari)
            af_id = await h.wait_action("long")
            await asyncio.sleep(0.5)
            await h.service.pause(af_id)
            runner = h.service.runner(af_id)
            assert runner.activeflow.status == ActiveflowStatus.PAUSED
            await eventually(lambda: "MusicOnHoldStart" in moh, what="hold music on pause")
            await asyncio.sleep(1.0)
            assert runner.activeflow.current_action.id == "long"  # the cursor is held
            await h.service.resume(af_id)
            await eventually(lambda: "MusicOnHoldStop" in moh, what="hold music stopped on resume")
            await asyncio.sleep(0.5)
            await caller.hangup()  # while the play action runs again
            af = await h.wait_ended()
            assert af.ended_reason == "hangup"
            assert [s for _, _, s in h.updates].count("paused") >= 1
    finally:
        await ami.aclose()


BLOCKING = [
    ("talk", {"text": "This is a long sentence that keeps talking while the caller hangs up on it, "
                      "and it goes on and on for quite a while longer."}),
    ("play", {"stream_urls": ["tt-monkeys"]}),
    ("sleep", {"duration": 20000}),
    ("digits_receive", {"duration": 20000, "length": 4}),
    ("block", {}),
    ("confbridge_join", {"confbridge_id": "room-hangup-test"}),
    ("connect", {"destinations": [{"type": "extension", "target": "noanswer"}]}),
]


@pytest.mark.parametrize(("kind", "option"), BLOCKING, ids=[k for k, _ in BLOCKING])
async def test_caller_hangs_up_during_each_blocking_action(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path, kind: str, option: dict[str, object]
) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"}, {"id": "wait", "type": kind, "option": option},
            {"id": "never", "type": "variable_set", "option": {"key": "x", "value": "1"}}]})
        tasks_before = len(asyncio.all_tasks())
        caller = await place_call(ari)
        await h.wait_action("wait")
        await asyncio.sleep(0.3)
        await caller.hangup()
        af = await h.wait_ended()
        assert af.ended_reason == "hangup" and af.current_action.id == "wait"
        await eventually(lambda: not h.service.runners and not h.app.calls and h.app.active_tasks == 0,
                         what="runner and call task released")
        await eventually(lambda: asterisk.channels() == [], what="no channels left")
        await eventually(lambda: len(asyncio.all_tasks()) <= tasks_before, what="no tasks left behind")
        assert ari.hub.channel_subscription_count == 0
        assert await ari.bridges.list() == []  # rooms and dial bridges released too


async def test_digits_send_reaches_the_caller(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    from flowengine.asterisk.ari.events import ChannelDtmfReceived

    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"type": "sleep", "option": {"duration": 300}},
            {"id": "send", "type": "digits_send", "option": {"digits": "12#", "duration": 100, "interval": 100}},
            {"type": "sleep", "option": {"duration": 300}},
        ]})
        caller = await place_call(ari)
        heard = caller.leg.events()
        digits = [(await heard.wait_for(ChannelDtmfReceived, timeout=10)).digit for _ in range(3)]
        heard.close()
        assert digits == ["1", "2", "#"]
        af = await h.wait_ended()
        assert af.ended_reason == "finished"

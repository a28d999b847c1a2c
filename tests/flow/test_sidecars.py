"""recording, AMD and external media beside a real call."""
from __future__ import annotations

import asyncio
import socket
import wave
from pathlib import Path

from flowengine.asterisk.ari.client import AriClient
from tests.conftest import Asterisk
from tests.flow.calls import flow_harness, place_call
from tests.support import eventually


async def test_recording_file_exists_and_variables_are_set(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "rec", "type": "recording_start", "option": {"format": "wav"}},
            {"type": "play", "option": {"stream_urls": ["sound:demo-congrats"]}},
            {"type": "recording_stop"},
            {"type": "variable_set", "option": {"key": "file", "value": "${voipbin.recording.filenames}"}},
        ]})
        await place_call(ari)
        af = await h.wait_ended(timeout=40)
        assert af.ended_reason == "finished"
        rec_id = af.variables["voipbin.recording.id"]
        assert af.variables["file"] == f"{rec_id}.wav"
        assert af.variables["voipbin.recording.reference_id"] == af.reference_id
        path = asterisk.instance.directory / "spool" / "recording" / f"{rec_id}.wav"
        await eventually(path.exists, what="recording file")
        with wave.open(str(path)) as w:
            assert w.getnframes() / w.getframerate() > 1.0
        await eventually(lambda: asterisk.channels() == [], what="snoop and call gone")


async def test_amd_result_lands_in_variables(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with flow_harness(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "detect", "type": "amd", "option": {"machine_handle": "continue"}},
            {"type": "variable_set", "option": {"key": "result", "value": "${voipbin.amd.status}"}},
        ]})
        caller = await place_call(ari)
        await h.wait_action("detect")
        playback = await caller.leg.play("sound:vm-intro")  # a long greeting, as a machine would say
        af = await h.wait_ended(timeout=40)
        await playback.stop()
        assert af.variables["result"] in ("MACHINE", "HUMAN", "NOTSURE")
        assert af.variables["voipbin.amd.cause"] != "amd did not finish"
        await eventually(lambda: asterisk.channels() == [], what="snoop and call gone")


async def test_external_media_streams_the_call_out(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    try:
        async with flow_harness(asterisk, ari, tmp_path) as h:
            h.flows.add({"id": "main", "actions": [
                {"type": "answer"},
                {"type": "external_media_start", "option": {"external_host": f"127.0.0.1:{port}"}},
                {"id": "hold", "type": "sleep", "option": {"duration": 1500}},
                {"type": "external_media_stop"},
            ]})
            caller = await place_call(ari)
            await h.wait_action("hold")
            await caller.leg.play("sound:tt-monkeys")
            loop = asyncio.get_running_loop()
            packets = [await asyncio.wait_for(loop.sock_recv(sock, 2048), 5) for _ in range(10)]
            assert all(p[0] >> 6 == 2 for p in packets)
            af = await h.wait_ended(timeout=20)
            assert af.ended_reason == "finished"
            await eventually(lambda: asterisk.channels() == [], what="external media torn down")
            assert await ari.bridges.list() == []
    finally:
        sock.close()


async def test_echo_returns_the_call_to_the_flow(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    from flowengine.asterisk.ami import AmiClient

    info = asterisk.info
    ami = AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret)
    await ami.connect()
    try:
        async with flow_harness(asterisk, ari, tmp_path, ami=ami) as h:
            h.flows.add({"id": "main", "actions": [
                {"type": "answer"},
                {"id": "echo", "type": "echo", "option": {"duration": 1500}},
                {"type": "variable_set", "option": {"key": "back", "value": "yes"}},
            ]})
            caller = await place_call(ari, record=True)
            await h.wait_action("echo")
            await caller.leg.play("sound:tt-monkeys")
            af = await h.wait_ended(timeout=20)
            assert af.variables["back"] == "yes" and af.ended_reason == "finished"
            assert h.app.calls_started == 1  # coming back into Stasis is not a new call
            await eventually(lambda: asterisk.channels() == [], what="call over")
    finally:
        await ami.aclose()

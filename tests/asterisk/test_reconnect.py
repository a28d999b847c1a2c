"""Asterisk stopped and started under a running engine: reconnect, resync, nothing leaks."""
from __future__ import annotations

import asyncio
from pathlib import Path

from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.app import AriApp, Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import PrivateAsterisk
from flowengine.asterisk.routing import RouteTable
from tests.support import eventually, open_sockets, processes_using


async def test_restart_reconnects_resyncs_and_leaks_nothing(tmp_path: Path) -> None:
    instance = PrivateAsterisk(tmp_path / "ast")
    info = await asyncio.to_thread(instance.start)
    client = AriClient(info.ari_url, info.ari_username, info.ari_password, reconnect_min=0.1, reconnect_max=0.5)
    ami = AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret)
    calls: asyncio.Queue[Call] = asyncio.Queue()

    async def handler(call: Call) -> None:
        await call.channel.answer()
        await calls.put(call)
        await call.ended.wait()

    app = AriApp(client, RouteTable(default_flow="main"), handler)
    try:
        await client.start()
        await ami.connect()
        tasks_before = len(asyncio.all_tasks())
        ports = (info.ari_port, info.ami_port)
        sockets_before = open_sockets(ports)

        # A call is in progress when Asterisk goes away.
        await client.channels.originate("Local/1000@flowengine-inbound", formats="ulaw")
        lost = await asyncio.wait_for(calls.get(), 10)
        await asyncio.to_thread(instance.stop)
        assert processes_using(instance.conf_file) == []
        await eventually(lambda: not client.connected.is_set(), what="disconnect noticed")
        assert client.problem == f"ARI events WebSocket to {info.ari_url} disconnected"  # /health says so

        info2 = await asyncio.to_thread(instance.start)
        assert (info2.ari_port, info2.ami_port) == (info.ari_port, info.ami_port)
        await asyncio.wait_for(client.connected.wait(), 15)
        assert client.connections == 2
        assert client.problem == ""  # registered again: healthy
        # resync: the call whose channel vanished with Asterisk has ended and released its task
        await asyncio.wait_for(lost.ended.wait(), 10)
        await eventually(lambda: not app.calls and app.active_tasks == 0, what="lost call cleaned up")

        await ami.wait_authenticated(15)
        assert await ami.ping() < 5

        # and a new call is handled on the new connection
        leg = await client.channels.originate("Local/1000@flowengine-inbound", formats="ulaw")
        fresh = await asyncio.wait_for(calls.get(), 10)
        assert fresh.id != lost.id
        await leg.hangup()
        await asyncio.wait_for(fresh.ended.wait(), 10)
        await eventually(lambda: app.active_tasks == 0, what="new call task ended")

        await eventually(lambda: len(asyncio.all_tasks()) <= tasks_before, what="tasks back to baseline")
        assert open_sockets(ports) <= sockets_before + 1  # at most one more pooled HTTP connection
        assert len(processes_using(instance.conf_file)) == 1
    finally:
        await app.aclose()
        await ami.aclose()
        await client.aclose()
        await asyncio.to_thread(instance.stop)
    assert processes_using(instance.conf_file) == []

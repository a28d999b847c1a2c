"""A mixing bridge with an externalMedia channel: created, carries RTP, torn down; never a caller."""
from __future__ import annotations

import asyncio
import itertools
import socket
import struct

from flowengine.asterisk.app import AriApp, Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisStart
from flowengine.asterisk.routing import RouteTable
from tests.conftest import Asterisk
from tests.support import eventually


async def never_called(call: Call) -> None:
    raise AssertionError(f"helper channel {call.channel.snapshot.name} treated as a caller")


async def test_external_media_bridge_carries_rtp_and_is_torn_down(asterisk: Asterisk, ari: AriClient) -> None:
    app = AriApp(ari, RouteTable(default_flow="main"), never_called)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    loop = asyncio.get_running_loop()
    try:
        bridge = await ari.bridges.create("mixing")
        # A Local channel that answers and plays a sound, originated into our app (ours, not a caller).
        leg_events = ari.events("em-test-leg")
        leg = await ari.channels.originate("Local/monkeys@flowengine-test", formats="ulaw", channel_id="em-test-leg")
        await leg_events.wait_for(StasisStart, timeout=10)
        leg_events.close()
        media = await ari.channels.external_media(f"127.0.0.1:{port}", fmt="ulaw")
        assert media.snapshot.name.startswith("UnicastRTP/")
        vars_ = media.snapshot.channelvars
        assert vars_["UNICASTRTP_LOCAL_ADDRESS"] == "127.0.0.1" and int(vars_["UNICASTRTP_LOCAL_PORT"]) > 0
        await bridge.add(leg.id, media.id)
        assert set((await bridge.refresh()).channels) == {leg.id, media.id}

        packets = []
        while len(packets) < 25:
            data, source = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), 5)
            packets.append((data, source))
        first, source = packets[0]
        assert source == ("127.0.0.1", int(vars_["UNICASTRTP_LOCAL_PORT"]))
        version, payload_type = first[0] >> 6, first[1] & 0x7F
        assert version == 2 and payload_type == 0 and len(first) == 12 + 160
        seqs = [struct.unpack("!H", p[2:4])[0] for p, _ in packets]
        assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))

        # The UnicastRTP and Local legs raised StasisStart; none became a call.
        assert app.calls_started == 0 and app.helpers_ignored >= 2

        await media.hangup()
        await leg.hangup()
        assert await bridge.destroy()
        await eventually(lambda: asterisk.channels() == [], what="channels gone")
        assert await ari.bridges.list() == []
    finally:
        sock.close()
        await app.aclose()
    assert not ari.owned_channels, "owned channel ids are forgotten once destroyed"

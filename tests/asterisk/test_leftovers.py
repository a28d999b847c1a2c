"""An engine that died with calls up: its next start hangs up what Asterisk still holds for its app."""
from __future__ import annotations

import uuid

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.leftovers import Leftovers, clear_leftovers, find_leftovers
from tests.conftest import Asterisk
from tests.support import eventually, stasis_call


def client(asterisk: Asterisk, app: str) -> AriClient:
    i = asterisk.info
    return AriClient(i.ari_url, i.ari_username, i.ari_password, app)


async def test_a_dead_runs_channels_and_bridges_are_cleared_and_no_one_elses(asterisk: Asterisk) -> None:
    app = f"leftover-{uuid.uuid4().hex[:8]}"
    dead = client(asterisk, app)
    neighbour = client(asterisk, f"neighbour-{uuid.uuid4().hex[:8]}")
    await dead.start()
    await neighbour.start()
    try:
        caller = await stasis_call(dead)
        bridge = await dead.bridges.create("mixing", name="left-behind")
        await bridge.add(caller)
        other = await stasis_call(neighbour)
        await dead.aclose()  # the engine dies: nothing hung up, nothing destroyed

        restarted = client(asterisk, app)
        try:
            found = await find_leftovers(restarted)  # before its WebSocket opens, as the engine does
            assert caller in found.channel_ids and found.bridge_ids == (bridge.id,)
            cleared = await clear_leftovers(restarted, found)
            assert caller in cleared.channel_ids and cleared.bridge_ids == (bridge.id,)

            async def caller_gone() -> bool:  # a hangup is done by the channel's own thread, after the 204
                return caller not in {c.id for c in await restarted.channels.list()}

            await eventually(caller_gone, timeout=5.0, what="the hung-up caller gone")
            assert other in {c.id for c in await restarted.channels.list()}  # another application's call is untouched
            assert bridge.id not in {b.id for b in await restarted.bridges.list()}
            assert not await find_leftovers(restarted)
            # what is already gone is not counted twice
            assert await clear_leftovers(restarted, found) == Leftovers()
        finally:
            await restarted.aclose()
        await ChannelHandle(neighbour, other).hangup()
    finally:
        await neighbour.aclose()
        await dead.aclose()


async def test_an_application_asterisk_never_saw_has_no_leftovers(asterisk: Asterisk) -> None:
    ari = client(asterisk, f"never-{uuid.uuid4().hex[:8]}")
    try:
        assert await find_leftovers(ari) == Leftovers()
    finally:
        await ari.aclose()

"""Bridges on the real private Asterisk: making a bridge of a given id once, however many ask for it."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import BridgeHandle
from flowengine.asterisk.ari.rest import AriHTTPError, AriNotFound
from tests.conftest import Asterisk


async def test_asterisk_refuses_a_type_for_an_existing_bridge(ari: AriClient) -> None:
    """Why `ensure` exists: creating an existing bridge again with a type is refused on Asterisk 16."""
    bridge = await ari.bridges.create("mixing", bridge_id=f"room-{uuid.uuid4()}")
    try:
        with pytest.raises(AriHTTPError, match="bridge type"):
            await ari.bridges.create("mixing", bridge_id=bridge.id)
    finally:
        await bridge.destroy()


async def test_ensure_makes_a_bridge_once_and_joins_the_existing_one(ari: AriClient) -> None:
    room = f"room-{uuid.uuid4()}"
    results = await asyncio.gather(*(ari.bridges.ensure(room) for _ in range(4)))
    try:
        assert [made for _, made in results].count(True) == 1  # one made it, the others found it
        assert {handle.id for handle, _ in results} == {room}
        assert [b.id for b in await ari.bridges.list()].count(room) == 1
        again, made = await ari.bridges.ensure(room)
        assert again.id == room and not made and again.snapshot.bridge_type == "mixing"
        assert ari.bridges._making == {}  # no lock left behind
    finally:
        await results[0][0].destroy()


async def test_ensure_that_loses_the_race_to_another_client_finds_its_bridge(
    asterisk: Asterisk, ari: AriClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another ARI client makes the bridge between our look (nothing there) and our create (refused)."""
    room = f"room-{uuid.uuid4()}"
    other = asterisk.client()
    await other.start()
    looks = 0
    real_get = ari.bridges.get

    async def late_look(bridge_id: str) -> BridgeHandle:
        nonlocal looks
        looks += 1
        if looks == 1:
            await other.bridges.create("mixing", bridge_id=bridge_id)  # the other client wins meanwhile
            raise AriNotFound("GET", f"/bridges/{bridge_id}", 404, "Bridge not found")
        return await real_get(bridge_id)

    monkeypatch.setattr(ari.bridges, "get", late_look)
    try:
        handle, made = await ari.bridges.ensure(room)
        assert handle.id == room and not made and looks == 2
        assert [b.id for b in await ari.bridges.list()].count(room) == 1
    finally:
        await (await real_get(room)).destroy()
        await other.aclose()


async def test_ensure_reports_what_asterisk_refused(ari: AriClient) -> None:
    with pytest.raises(AriHTTPError) as refused:
        await ari.bridges.ensure("room", bridge_type="no-such-type")
    assert refused.value.status in (400, 500) and "POST /bridges/room" in str(refused.value)
    assert await ari.bridges.list() == []

"""Channels and bridges a previous run of our ARI application left in Asterisk: hung up and destroyed before it connects again."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle
from flowengine.asterisk.ari.models import Bridge
from flowengine.asterisk.ari.rest import AriError, AriNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leftovers:
    channel_ids: tuple[str, ...] = ()
    bridge_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.channel_ids or self.bridge_ids)


async def find_leftovers(ari: AriClient) -> Leftovers:
    """What Asterisk still counts as our application's, asked before our events WebSocket opens.

    An engine that stopped without hanging up (killed, crashed, host lost) leaves its callers in
    Stasis on an Asterisk it does not own: they hear silence until they give up, and
    externalMedia channels keep streaming to a port nobody reads. While the application is not
    registered nothing new can enter it (Stasis() fails, and only we originate into it), so
    every channel and bridge Asterisk lists for it now belongs to a run that is gone. A private
    Asterisk started with the engine lists nothing.
    """
    try:
        app = await ari.rest.get(f"/applications/{quote(ari.app, safe='')}")
    except AriNotFound:  # Asterisk forgets an application once nothing holds it
        return Leftovers()
    return Leftovers(tuple(str(c) for c in app.get("channel_ids") or ()),
                     tuple(str(b) for b in app.get("bridge_ids") or ()))


async def clear_leftovers(ari: AriClient, leftovers: Leftovers) -> Leftovers:
    """Hangs up the channels and destroys the bridges of `leftovers`; returns what was still there.
    One that cannot be cleared is logged and the rest go on: the engine must still start."""
    channels: list[str] = []
    bridges: list[str] = []
    for channel_id in leftovers.channel_ids:
        try:
            if await ChannelHandle(ari, channel_id).hangup("normal"):
                channels.append(channel_id)
        except AriError as exc:
            log.error("could not hang up channel %s left by a previous run: %s", channel_id, exc)
    for bridge_id in leftovers.bridge_ids:
        try:
            if await BridgeHandle(ari, Bridge(id=bridge_id)).destroy():
                bridges.append(bridge_id)
        except AriError as exc:
            log.error("could not destroy bridge %s left by a previous run: %s", bridge_id, exc)
    cleared = Leftovers(tuple(channels), tuple(bridges))
    if cleared:
        log.warning("ARI application %r: hung up %d channel(s) and destroyed %d bridge(s) a previous run left",
                    ari.app, len(channels), len(bridges))
    return cleared

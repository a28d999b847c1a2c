"""An AI call's media on a phone call: the confbridge (mixing bridge), the caller, externalMedia, MediaSession."""
from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle
from flowengine.asterisk.ari.rest import AriError, quietly
from flowengine.media.frames import MediaInbox
from flowengine.media.session import MediaSession
from flowengine.media.vad import VadConfig

log = logging.getLogger(__name__)


@dataclass
class MediaSettings:
    """Where the RTP socket binds and what Asterisk is told to send to (config `media`)."""

    format: str = "ulaw"
    bind_host: str = "127.0.0.1"
    advertise_host: str = ""
    port_range: tuple[int, int] | None = None
    vad_backend: str = "webrtc"


@dataclass
class CallMedia:
    """Everything an AI call holds on Asterisk and in-process; `aclose()` releases all of it."""

    ari: AriClient
    bridge: BridgeHandle
    session: MediaSession
    inbox: MediaInbox
    external: ChannelHandle | None = None
    caller_id: str = ""
    marks: list[Hashable] = field(default_factory=list)
    closed: bool = False
    music_on: bool = False  # music on hold plays in the bridge (started here)
    in_room: bool = True  # the externalMedia is in the bridge: the AI hears and is heard

    @classmethod
    async def attach(
        cls,
        ari: AriClient,
        caller: ChannelHandle,
        bridge_id: str,
        settings: MediaSettings,
        vad: VadConfig,
    ) -> CallMedia:
        """Bridge the caller with an externalMedia channel wired to a new MediaSession."""
        inbox = MediaInbox()
        session = MediaSession(
            format=settings.format, bind_host=settings.bind_host,
            advertise_host=settings.advertise_host or None, port_range=settings.port_range,
            vad_config=vad, vad_backend=settings.vad_backend, on_audio=inbox.put, on_event=inbox.put,
            # A continuous stream, as phones send: the far end's VAD then sees the agent stop.
            idle_silence=True, name=bridge_id)
        await session.start()
        bridge: BridgeHandle | None = None
        media = None
        try:
            bridge = await ari.bridges.create("mixing", name=f"aicall-{bridge_id}", bridge_id=bridge_id)
            external = await ari.channels.external_media(session.advertise_address, fmt=settings.format)
            vars_ = external.snapshot.channelvars
            session.set_remote(vars_["UNICASTRTP_LOCAL_ADDRESS"], int(vars_["UNICASTRTP_LOCAL_PORT"]))
            media = cls(ari, bridge, session, inbox, external, caller.id)
            await bridge.add(caller.id)
            await bridge.add(external.id)
            return media
        except BaseException:
            if media is not None:
                await media.aclose()
            else:
                await session.aclose()
                if bridge is not None:
                    await quietly(bridge.destroy())
            raise

    async def aclose(self) -> None:
        """Hang up the externalMedia channel, take the caller out, destroy the bridge, close RTP."""
        if self.closed:
            return
        self.closed = True
        self.inbox.close()
        if self.external is not None:
            await quietly(self.external.hangup())
        if self.caller_id:
            await quietly(self.bridge.remove(self.caller_id))
        await quietly(self.bridge.destroy())
        await self.session.aclose()

    async def hold_music(self, on: bool) -> None:
        path = f"/bridges/{self.bridge.id}/moh"
        try:
            if on:
                await self.ari.rest.post(path)
            else:
                await self.ari.rest.delete(path)
            self.music_on = on
        except AriError as exc:
            log.warning("bridge music on hold %s failed: %s", "start" if on else "stop", exc)

    async def step_out(self) -> None:
        """The AI leaves its room (paused): its externalMedia leaves the bridge, so it neither hears the
        room nor is heard in it, whoever joins meanwhile. The channel and the RTP stream stay up."""
        if self.external is None or not self.in_room or self.closed:
            return
        try:
            await self.bridge.remove(self.external.id)
            self.in_room = False
        except AriError as exc:  # the conversation is paused all the same: it drops what it would hear
            log.warning("taking the AI out of its room failed: %s", exc)

    async def step_in(self) -> None:
        """The AI is back in its room (resumed); AriError when Asterisk refuses (it would talk to nobody)."""
        if self.external is None or self.in_room or self.closed:
            return
        await self.bridge.add(self.external.id)
        self.in_room = True

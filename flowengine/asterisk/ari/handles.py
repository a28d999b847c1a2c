"""Channel, bridge and playback handles (domain objects) and their repositories (list/get/create)."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowengine.asterisk.ari.events import PlaybackFinished, StasisStart
from flowengine.asterisk.ari.models import Bridge, Channel, LiveRecording, Playback
from flowengine.asterisk.ari.rest import AriHTTPError, AriNotFound, Params

if TYPE_CHECKING:
    from flowengine.asterisk.ari.client import AriClient
    from flowengine.asterisk.ari.subscriptions import EventQueue

# Asterisk hangup reasons accepted by DELETE /channels/{id}?reason=
HANGUP_REASONS = frozenset(
    {"normal", "busy", "congestion", "no_answer", "timeout", "rejected", "unallocated",
     "normal_unspecified", "number_incomplete", "codec_mismatch", "interworking",
     "failure", "answered_elsewhere"}
)


def new_id(prefix: str = "fe") -> str:
    return f"{prefix}-{uuid.uuid4()}"


class ChannelHandle:
    """Operations on one channel; `snapshot` is the last JSON Asterisk gave for it."""

    def __init__(self, client: AriClient, channel_id: str, snapshot: Channel | None = None) -> None:
        self.client = client
        self.id = channel_id
        self.snapshot = snapshot or Channel(id=channel_id)

    def __repr__(self) -> str:
        return f"ChannelHandle({self.id!r}, {self.snapshot.name!r})"

    @property
    def _path(self) -> str:
        return f"/channels/{self.id}"

    def events(self) -> EventQueue:
        return self.client.events(self.id)

    async def refresh(self) -> Channel:
        self.snapshot = Channel.from_json(await self.client.rest.get(self._path))
        return self.snapshot

    async def answer(self) -> None:
        await self.client.rest.post(f"{self._path}/answer")

    async def ring(self) -> None:
        await self.client.rest.post(f"{self._path}/ring")

    async def hangup(self, reason: str = "normal") -> bool:
        """Hang up; False when the channel was already gone."""
        if reason not in HANGUP_REASONS:
            raise ValueError(f"unknown hangup reason {reason!r}; one of {sorted(HANGUP_REASONS)}")
        try:
            await self.client.rest.delete(self._path, {"reason": reason})
        except AriNotFound:
            return False
        return True

    async def play(self, media: str | list[str], *, lang: str = "", playback_id: str = "") -> PlaybackHandle:
        """Start playing `sound:x`, `tone:...`, `digits:...` or `http(s)://...` media."""
        params: Params = {"media": ",".join(media) if isinstance(media, list) else media}
        if lang:
            params["lang"] = lang
        pid = playback_id or new_id("pb")
        data = await self.client.rest.post(f"{self._path}/play/{pid}", params)
        return PlaybackHandle(self.client, Playback.from_json(data))

    async def send_dtmf(self, dtmf: str, *, between_ms: int = 100, duration_ms: int = 100) -> None:
        await self.client.rest.post(
            f"{self._path}/dtmf", {"dtmf": dtmf, "between": between_ms, "duration": duration_ms}
        )

    async def get_var(self, name: str) -> str | None:
        """A channel variable or dialplan function value; None when unset."""
        try:
            data = await self.client.rest.get(f"{self._path}/variable", {"variable": name})
        except AriNotFound:
            return None
        return str(data.get("value", ""))

    async def set_var(self, name: str, value: str) -> None:
        """Set a channel variable. Asterisk queues this on the channel's Stasis control, so a
        `get_var` right after may still see the old value (Asterisk 16 does it asynchronously)."""
        await self.client.rest.post(f"{self._path}/variable", {"variable": name, "value": value})

    async def mute(self, direction: str = "both") -> None:
        await self.client.rest.post(f"{self._path}/mute", {"direction": direction})

    async def unmute(self, direction: str = "both") -> None:
        await self.client.rest.delete(f"{self._path}/mute", {"direction": direction})

    async def hold(self) -> None:
        await self.client.rest.post(f"{self._path}/hold")

    async def unhold(self) -> None:
        await self.client.rest.delete(f"{self._path}/hold")

    async def start_moh(self, moh_class: str = "") -> None:
        await self.client.rest.post(f"{self._path}/moh", {"mohClass": moh_class} if moh_class else None)

    async def stop_moh(self) -> None:
        await self.client.rest.delete(f"{self._path}/moh")

    async def record(self, name: str, *, fmt: str = "wav", max_duration: int = 0,
                     max_silence: int = 0, beep: bool = False, terminate_on: str = "none",
                     if_exists: str = "fail") -> LiveRecording:
        data = await self.client.rest.post(f"{self._path}/record", {
            "name": name, "format": fmt, "maxDurationSeconds": max_duration,
            "maxSilenceSeconds": max_silence, "beep": beep, "terminateOn": terminate_on,
            "ifExists": if_exists,
        })
        return LiveRecording.from_json(data)

    async def snoop(
        self, *, spy: str = "both", whisper: str = "none", app_args: str = "", wait_stasis: float | None = 5.0
    ) -> ChannelHandle:
        """A Snoop channel on this one, in our app (registered as ours, never a caller); returned
        once it is in Stasis, so it can be recorded or bridged at once."""
        snoop_id = new_id("snoop")
        self.client.owned_channels.add(snoop_id)
        params: Params = {"app": self.client.app, "spy": spy, "whisper": whisper}
        if app_args:
            params["appArgs"] = app_args
        return await self.client.channels._create(snoop_id, f"{self._path}/snoop/{snoop_id}", params, None,
                                                  wait_stasis)

    async def continue_in_dialplan(self, context: str = "", extension: str = "", priority: int = 0) -> None:
        params: Params = {}
        if context:
            params["context"] = context
        if extension:
            params["extension"] = extension
        if priority:
            params["priority"] = priority
        await self.client.rest.post(f"{self._path}/continue", params)


class BridgeHandle:
    def __init__(self, client: AriClient, bridge: Bridge) -> None:
        self.client = client
        self.id = bridge.id
        self.snapshot = bridge

    def __repr__(self) -> str:
        return f"BridgeHandle({self.id!r})"

    async def add(self, *channel_ids: str) -> None:
        """Add channels one at a time (each must already be in Stasis)."""
        for channel_id in channel_ids:
            await self.client.rest.post(f"/bridges/{self.id}/addChannel", {"channel": channel_id})

    async def remove(self, *channel_ids: str) -> None:
        for channel_id in channel_ids:
            await self.client.rest.post(f"/bridges/{self.id}/removeChannel", {"channel": channel_id})

    async def play(self, media: str, *, playback_id: str = "") -> PlaybackHandle:
        pid = playback_id or new_id("pb")
        data = await self.client.rest.post(f"/bridges/{self.id}/play/{pid}", {"media": media})
        return PlaybackHandle(self.client, Playback.from_json(data))

    async def destroy(self) -> bool:
        """Destroy; False when it was already gone."""
        try:
            await self.client.rest.delete(f"/bridges/{self.id}")
        except AriNotFound:
            return False
        return True

    async def refresh(self) -> Bridge:
        self.snapshot = Bridge.from_json(await self.client.rest.get(f"/bridges/{self.id}"))
        return self.snapshot


class PlaybackHandle:
    def __init__(self, client: AriClient, playback: Playback) -> None:
        self.client = client
        self.id = playback.id
        self.snapshot = playback
        # Subscribe at once: a short sound may finish before the caller starts waiting.
        self._finished = asyncio.get_running_loop().create_future()
        self._sub = client.subscribe(self._on_event, event_type="PlaybackFinished")

    def _on_event(self, event: object) -> None:
        if isinstance(event, PlaybackFinished) and event.playback.id == self.id:
            if not self._finished.done():
                self._finished.set_result(event.playback)
            self._sub.close()

    async def wait(self, timeout: float | None = None) -> Playback:
        """Wait for PlaybackFinished (stopped, done, or the channel went away)."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._finished), timeout)
        finally:
            if self._finished.done():
                self._sub.close()

    async def stop(self) -> None:
        try:
            await self.client.rest.delete(f"/playbacks/{self.id}")
        except AriNotFound:
            pass
        finally:
            self._sub.close()

    def close(self) -> None:
        self._sub.close()


class Channels:
    """The channel repository: get, list, originate, externalMedia."""

    def __init__(self, client: AriClient) -> None:
        self.client = client

    async def get(self, channel_id: str) -> ChannelHandle:
        data = await self.client.rest.get(f"/channels/{channel_id}")
        return ChannelHandle(self.client, channel_id, Channel.from_json(data))

    async def list(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self.client.rest.get("/channels")]

    async def originate(
        self,
        endpoint: str,
        *,
        app_args: str = "",
        caller_id: str = "",
        timeout: int = 30,
        formats: str = "",
        variables: Mapping[str, str] | None = None,
        channel_id: str = "",
        other_channel_id: str = "",
        originator: str = "",
        wait_stasis: float | None = None,
    ) -> ChannelHandle:
        """Originate into our app. The new channel is ours (never treated as a caller).

        With `wait_stasis`, return only after its StasisStart (it can join bridges then).
        """
        cid = channel_id or new_id("orig")
        self.client.owned_channels.add(cid)
        params: Params = {"endpoint": endpoint, "app": self.client.app, "timeout": timeout, "channelId": cid}
        for key, value in (("appArgs", app_args), ("callerId", caller_id), ("formats", formats),
                           ("otherChannelId", other_channel_id), ("originator", originator)):
            if value:
                params[key] = value
        body = {"variables": dict(variables)} if variables else None
        return await self._create(cid, "/channels", params, body, wait_stasis)

    async def external_media(
        self,
        external_host: str,
        *,
        fmt: str = "ulaw",
        encapsulation: str = "rtp",
        transport: str = "udp",
        direction: str = "both",
        variables: Mapping[str, str] | None = None,
        channel_id: str = "",
        wait_stasis: float | None = 5.0,
    ) -> ChannelHandle:
        """Create an externalMedia (UnicastRTP) channel sending RTP to `external_host`."""
        cid = channel_id or new_id("em")
        self.client.owned_channels.add(cid)
        params: Params = {
            "app": self.client.app, "external_host": external_host, "format": fmt,
            "encapsulation": encapsulation, "transport": transport, "direction": direction,
            "channelId": cid,
        }
        body = {"variables": dict(variables)} if variables else None
        return await self._create(cid, "/channels/externalMedia", params, body, wait_stasis)

    async def _create(
        self, cid: str, path: str, params: Params, body: dict[str, Any] | None, wait_stasis: float | None
    ) -> ChannelHandle:
        queue = self.client.events(cid) if wait_stasis else None
        try:
            data = await self.client.rest.post(path, params, body)
            handle = ChannelHandle(self.client, cid, Channel.from_json(data))
            if queue is not None:
                await queue.wait_for(StasisStart, timeout=wait_stasis)
            return handle
        except BaseException:
            self.client.owned_channels.discard(cid)
            raise
        finally:
            if queue is not None:
                queue.close()


class Bridges:
    def __init__(self, client: AriClient) -> None:
        self.client = client
        # bridge id -> the lock of the `ensure` calls for it, and how many there are
        self._making: dict[str, tuple[asyncio.Lock, int]] = {}

    async def create(self, bridge_type: str = "mixing", name: str = "", bridge_id: str = "") -> BridgeHandle:
        """A new bridge. Only for an id that does not exist: Asterisk 16 refuses a type for an existing
        bridge (500 "Supplying a bridge type when updating a bridge is not allowed"); see `ensure`."""
        params: Params = {"type": bridge_type}
        if name:
            params["name"] = name
        bid = bridge_id or new_id("br")
        data = await self.client.rest.post(f"/bridges/{bid}", params)
        return BridgeHandle(self.client, Bridge.from_json(data))

    async def ensure(self, bridge_id: str, bridge_type: str = "mixing") -> tuple[BridgeHandle, bool]:
        """The bridge `bridge_id`, made as `bridge_type` only when it does not exist yet; True when made
        here. Joins of this client racing to make it are serialised (Asterisk could otherwise make two
        bridges of one id); one that loses the race to another ARI client finds the bridge it made."""
        lock, users = self._making.get(bridge_id, (asyncio.Lock(), 0))
        self._making[bridge_id] = (lock, users + 1)
        try:
            async with lock:
                try:
                    return await self.get(bridge_id), False
                except AriNotFound:
                    pass
                try:
                    return await self.create(bridge_type, bridge_id=bridge_id), True
                except AriHTTPError as refused:  # made meanwhile by another client: it is there now
                    try:
                        return await self.get(bridge_id), False
                    except AriNotFound:
                        raise refused from None
        finally:
            lock, users = self._making[bridge_id]
            if users == 1:
                del self._making[bridge_id]
            else:
                self._making[bridge_id] = (lock, users - 1)

    async def get(self, bridge_id: str) -> BridgeHandle:
        return BridgeHandle(self.client, Bridge.from_json(await self.client.rest.get(f"/bridges/{bridge_id}")))

    async def list(self) -> list[Bridge]:
        return [Bridge.from_json(b) for b in await self.client.rest.get("/bridges")]


class Playbacks:
    def __init__(self, client: AriClient) -> None:
        self.client = client

    async def get(self, playback_id: str) -> Playback:
        return Playback.from_json(await self.client.rest.get(f"/playbacks/{playback_id}"))

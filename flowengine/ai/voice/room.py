"""An AI call's room (its confbridge) with people in it: a human agent taking over a paused AI call."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from flowengine.ai.voice.media import CallMedia
from flowengine.asterisk.ari.events import ChannelEnteredBridge, ChannelLeftBridge, Event
from flowengine.asterisk.ari.models import Channel
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

# Channels Asterisk itself puts in a bridge (ARI's music on hold announcer, bridge recordings): not people.
BRIDGE_HELPERS = ("Announcer/", "Recorder/")

Note = Callable[[str], Awaitable[None]]


def joined_note(channel_id: str) -> str:
    return f"A human agent joined the call (call {channel_id})."


def left_note(channel_id: str) -> str:
    return f"The human agent left the call (call {channel_id})."


class Room:
    """Who is in an AI call's room besides the caller and the AI, and what a pause means there.

    Paused, the AI is out of the room (its externalMedia leaves the bridge: it neither hears nor is
    heard), and the caller hears music on hold only while nobody else is there: a human agent who
    joins (`confbridge_join` with the AI call's confbridge id) stops it, and it plays again when the
    last one leaves. Each join and leave is told to `note` (the takeover's transcript note). Resumed,
    the AI is back in the room, with whoever is still there."""

    def __init__(self, media: CallMedia, note: Note) -> None:
        self.media = media
        self.note = note
        self.humans: set[str] = set()
        self.paused = False
        self.music = False  # the pause asked for music on hold
        self._lock = asyncio.Lock()  # one change of the room at a time: pause, resume, a join, a leave
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._tasks = TaskOwner(f"room-{media.bridge.id}")
        ari = media.ari
        self._subs = [ari.subscribe(self._on_event, event_type=kind)
                      for kind in ("ChannelEnteredBridge", "ChannelLeftBridge")]
        self._tasks.start(self._follow(), name=f"room-{media.bridge.id}")

    def _is_person(self, channel: Channel) -> bool:
        media = self.media
        ours = {media.caller_id, media.external.id if media.external is not None else ""}
        return (channel.id not in ours and not channel.is_helper_technology
                and not channel.name.startswith(BRIDGE_HELPERS))

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChannelEnteredBridge) and event.bridge.id == self.media.bridge.id:
            self._events.put_nowait(event)

    async def _follow(self) -> None:
        while True:
            event = await self._events.get()
            assert isinstance(event, ChannelEnteredBridge)  # ChannelLeftBridge is one too
            if not self._is_person(event.channel):
                continue
            try:
                async with self._lock:
                    if isinstance(event, ChannelLeftBridge):
                        await self._left(event.channel.id)
                    else:
                        await self._joined(event.channel.id)
            except Exception:  # one failed note or music change must not blind the room to the next
                log.exception("following the AI call's room: %s of %s", event.type, event.channel.id)

    async def _joined(self, channel_id: str) -> None:
        if channel_id in self.humans:
            return
        self.humans.add(channel_id)
        log.info("a human agent joined the AI call's room: %s", channel_id)
        if self.paused and self.media.music_on:
            await self.media.hold_music(False)
        await self.note(joined_note(channel_id))

    async def _left(self, channel_id: str) -> None:
        if channel_id not in self.humans:
            return
        self.humans.discard(channel_id)
        log.info("a human agent left the AI call's room: %s", channel_id)
        if self.paused and self.music and not self.humans and not self.media.closed:
            await self.media.hold_music(True)
        await self.note(left_note(channel_id))

    async def pause(self, music: bool) -> None:
        """The AI leaves the room; music on hold if `music` and the caller is alone."""
        async with self._lock:
            self.paused, self.music = True, music
            await self.media.step_out()
            if music and not self.humans:
                await self.media.hold_music(True)

    async def resume(self) -> None:
        """The AI is back in the room (music on hold stopped)."""
        async with self._lock:
            self.paused = False
            if self.media.music_on:
                await self.media.hold_music(False)
            await self.media.step_in()

    async def aclose(self) -> None:
        for sub in self._subs:
            sub.close()
        await self._tasks.aclose()

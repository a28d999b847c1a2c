"""Event subscriptions: closable handles, per-channel routing, and awaitable event queues."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Self, TypeVar

from flowengine.asterisk.ari.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
E = TypeVar("E", bound=Event)


class Subscription:
    """A registered handler; `close()` unregisters it (idempotent)."""

    def __init__(self, hub: EventHub, handler: Handler, event_type: str | None, channel_id: str | None) -> None:
        self.hub = hub
        self.handler = handler
        self.event_type = event_type
        self.channel_id = channel_id
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub._remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """Routes each event to the handlers of its type and of the channels it concerns."""

    def __init__(self) -> None:
        self._global: list[Subscription] = []
        self._by_channel: dict[str, list[Subscription]] = {}

    def subscribe(
        self, handler: Handler, *, event_type: str | None = None, channel_id: str | None = None
    ) -> Subscription:
        sub = Subscription(self, handler, event_type, channel_id)
        if channel_id is None:
            self._global.append(sub)
        else:
            self._by_channel.setdefault(channel_id, []).append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub.channel_id is None:
            if sub in self._global:
                self._global.remove(sub)
            return
        subs = self._by_channel.get(sub.channel_id)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._by_channel[sub.channel_id]

    @property
    def channel_subscription_count(self) -> int:
        return sum(len(s) for s in self._by_channel.values())

    @property
    def subscription_count(self) -> int:
        return len(self._global) + self.channel_subscription_count

    def dispatch(self, event: Event) -> None:
        targets = [s for s in self._global if s.event_type in (None, event.type)]
        for channel_id in event.channel_ids:
            targets.extend(
                s for s in self._by_channel.get(channel_id, ()) if s.event_type in (None, event.type)
            )
        for sub in targets:
            if sub.closed:
                continue
            try:
                sub.handler(event)
            except Exception:  # a faulty handler must not stop event delivery to the others
                log.exception("ARI event handler failed on %s", event.type)


class EventQueue:
    """Collects the events of one channel (or all) for a coroutine to await in order."""

    def __init__(self, hub: EventHub, channel_id: str | None = None, maxsize: int = 1000) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._sub = hub.subscribe(self._put, channel_id=channel_id)
        self.dropped = 0

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full, dropped %s", event.type)

    async def get(self, timeout: float | None = None) -> Event:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def wait_for(self, kind: type[E], predicate: Callable[[E], bool] | None = None, timeout: float | None = None) -> E:
        """Wait for the next event of `kind` matching `predicate`; earlier ones are consumed."""

        async def _wait() -> E:
            while True:
                event = await self._queue.get()
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    return event

        return await asyncio.wait_for(_wait(), timeout)

    def close(self) -> None:
        self._sub.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

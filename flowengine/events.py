"""The engine's event bus: resources announce what happened (VoIPBIN event names); webhooks, metrics and tests listen."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)

Listener = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """One thing that happened. `type` is VoIPBIN's event name (`call_hangup`, `aicall_status_progressing`,
    `aimessage_created`, `campaign_status_run`...); `data` is the resource as the API shows it (JSON-ready,
    never a secret); `customer_id` decides whose webhooks receive it. `extra` carries what other front doors
    (Vapi `serverMessages`, VoiceOS hooks) need and the VoIPBIN body does not show, e.g. the AI call id of
    a speech event."""

    type: str
    customer_id: str
    data: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    tm: datetime = field(default_factory=lambda: datetime.now(UTC))


class EventBus:
    """Publish never blocks and never fails the publisher: listeners are plain callables that must
    return at once (hand the event to a queue or a task); an exception in one is logged and the
    others still run."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Adds a listener; returns the function that removes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, event.type)

    def emit(self, type: str, customer_id: str, data: Mapping[str, Any], **extra: Any) -> Event:
        event = Event(type, customer_id, data, extra)
        self.publish(event)
        return event

    def stream(self, maxsize: int = 1000) -> EventStream:
        """An async iterator over what is published from now on (for tests and long-running consumers)."""
        return EventStream(self, maxsize)


class EventStream:
    """A bounded queue of events; when full the oldest is dropped and counted (a slow reader never
    holds up a call). Use as `async with bus.stream() as events: ev = await events.next("call_hangup")`."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self._unsubscribe = bus.subscribe(self._put)

    def _put(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def next(self, *types: str, timeout: float = 10.0,
                   where: Callable[[Event], bool] | None = None) -> Event:
        """The next event of one of `types` (any type when none given) that passes `where`; others are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.queue.get()
                if (not types or event.type in types) and (where is None or where(event)):
                    return event

    def close(self) -> None:
        self._unsubscribe()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        return await self.queue.get()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

"""A stand-in for the ARI client at its network edge: originate answers (or fails) at once, events come from the test.

It has what a dialled `Leg` uses (flowengine.flow.actions.bridging): `channels.originate`, `events(channel_id)`,
`subscribe(handler, channel_id=...)` and a handle's `hangup()`, over the real EventHub, so what the test
`dispatch`es reaches the subscribers exactly as Asterisk's events would."""
from __future__ import annotations

from dataclasses import dataclass, field

from flowengine.asterisk.ari.events import ChannelDestroyed, Dial, Event
from flowengine.asterisk.ari.models import Channel
from flowengine.asterisk.ari.subscriptions import EventHub, EventQueue, Handler, Subscription


@dataclass
class FakeHandle:
    id: str
    hung_up: bool = False

    async def hangup(self) -> None:
        self.hung_up = True


@dataclass
class FakeChannels:
    fail: Exception | None = None  # raised by the next originate
    originated: list[tuple[str, str, str]] = field(default_factory=list)  # endpoint, channel id, caller id
    handles: dict[str, FakeHandle] = field(default_factory=dict)

    async def originate(self, endpoint: str, *, channel_id: str = "", caller_id: str = "", timeout: int = 30,
                        formats: str = "") -> FakeHandle:
        if self.fail is not None:
            raise self.fail
        self.originated.append((endpoint, channel_id, caller_id))
        handle = self.handles[channel_id] = FakeHandle(channel_id)
        return handle


class FakeAri:
    def __init__(self) -> None:
        self.hub = EventHub()
        self.channels = FakeChannels()

    def subscribe(self, handler: Handler, *, event_type: str | None = None,
                  channel_id: str | None = None) -> Subscription:
        return self.hub.subscribe(handler, event_type=event_type, channel_id=channel_id)

    def events(self, channel_id: str | None = None) -> EventQueue:
        return EventQueue(self.hub, channel_id)

    def dispatch(self, event: Event) -> None:
        self.hub.dispatch(event)

    def dial_status(self, channel_id: str, dialstatus: str) -> None:
        self.dispatch(Dial(type="Dial", peer=Channel(id=channel_id), dialstatus=dialstatus))

    def destroyed(self, channel_id: str, cause: int) -> None:
        self.dispatch(ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=channel_id), cause=cause))

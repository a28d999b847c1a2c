"""Typed ARI events: one dataclass per event type Asterisk sends on the events WebSocket."""
from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flowengine.asterisk.ari.models import (
    JSON,
    Bridge,
    Channel,
    LiveRecording,
    Playback,
)


@dataclass(frozen=True)
class Event:
    """Base of every event; `raw` keeps the JSON for anything not typed yet."""

    type: str
    application: str = ""
    timestamp: str = ""
    asterisk_id: str = ""
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    registry: ClassVar[dict[str, builtins.type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__name__
        if name.endswith("Event"):  # abstract groups (ChannelEvent...) and UnknownEvent
            return
        if name in Event.registry:
            raise TypeError(f"ARI event type {name!r} registered twice")
        Event.registry[name] = cls

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        """Subclasses add their own typed fields to the common ones."""
        return {}

    @property
    def channel_ids(self) -> tuple[str, ...]:
        """Ids of the channels this event is about (for per-channel subscriptions)."""
        return ()


def _target_channel(target_uri: str) -> tuple[str, ...]:
    return (target_uri[len("channel:"):],) if target_uri.startswith("channel:") else ()


@dataclass(frozen=True)
class ChannelEvent(Event):
    """An event about one channel."""

    channel: Channel = field(default_factory=lambda: Channel(id=""))

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {"channel": Channel.from_json(data["channel"])}

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,)


@dataclass(frozen=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        replace = data.get("replace_channel")
        return {
            **super().fields_from_json(data),
            "args": tuple(str(a) for a in data.get("args") or ()),
            "replace_channel": Channel.from_json(replace) if replace else None,
        }


@dataclass(frozen=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelDialplan(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelCallerId(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelConnectedLine(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {
            **super().fields_from_json(data),
            "digit": str(data.get("digit", "")),
            "duration_ms": int(data.get("duration_ms", 0) or 0),
        }


@dataclass(frozen=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int = 0
    soft: bool = False

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {
            **super().fields_from_json(data),
            "cause": int(data.get("cause", 0) or 0),
            "soft": bool(data.get("soft", False)),
        }


@dataclass(frozen=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {
            **super().fields_from_json(data),
            "cause": int(data.get("cause", 0) or 0),
            "cause_txt": str(data.get("cause_txt", "")),
        }


@dataclass(frozen=True)
class ChannelVarset(Event):
    variable: str = ""
    value: str = ""
    channel: Channel | None = None

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        chan = data.get("channel")
        return {
            "variable": str(data.get("variable", "")),
            "value": str(data.get("value", "")),
            "channel": Channel.from_json(chan) if chan else None,
        }

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,) if self.channel else ()


@dataclass(frozen=True)
class ChannelTalkingStarted(ChannelEvent):
    pass


@dataclass(frozen=True)
class ChannelTalkingFinished(ChannelEvent):
    duration: int = 0

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {**super().fields_from_json(data), "duration": int(data.get("duration", 0) or 0)}


@dataclass(frozen=True)
class BridgeEvent(Event):
    bridge: Bridge = field(default_factory=lambda: Bridge(id=""))

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {"bridge": Bridge.from_json(data["bridge"])}


@dataclass(frozen=True)
class BridgeCreated(BridgeEvent):
    pass


@dataclass(frozen=True)
class BridgeDestroyed(BridgeEvent):
    pass


@dataclass(frozen=True)
class ChannelEnteredBridge(BridgeEvent):
    channel: Channel = field(default_factory=lambda: Channel(id=""))

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {**super().fields_from_json(data), "channel": Channel.from_json(data["channel"])}

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,)


@dataclass(frozen=True)
class ChannelLeftBridge(ChannelEnteredBridge):
    pass


@dataclass(frozen=True)
class PlaybackEvent(Event):
    playback: Playback = field(default_factory=lambda: Playback(id=""))

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {"playback": Playback.from_json(data["playback"])}

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _target_channel(self.playback.target_uri)


@dataclass(frozen=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(frozen=True)
class PlaybackContinuing(PlaybackEvent):
    pass


@dataclass(frozen=True)
class PlaybackFinished(PlaybackEvent):
    pass


@dataclass(frozen=True)
class RecordingEvent(Event):
    recording: LiveRecording = field(default_factory=lambda: LiveRecording(name=""))

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        return {"recording": LiveRecording.from_json(data["recording"])}

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _target_channel(self.recording.target_uri)


@dataclass(frozen=True)
class RecordingStarted(RecordingEvent):
    pass


@dataclass(frozen=True)
class RecordingFinished(RecordingEvent):
    pass


@dataclass(frozen=True)
class RecordingFailed(RecordingEvent):
    pass


@dataclass(frozen=True)
class Dial(Event):
    peer: Channel = field(default_factory=lambda: Channel(id=""))
    caller: Channel | None = None
    dialstatus: str = ""
    dialstring: str = ""
    forward: str = ""

    @classmethod
    def fields_from_json(cls, data: JSON) -> dict[str, Any]:
        caller = data.get("caller")
        return {
            "peer": Channel.from_json(data["peer"]),
            "caller": Channel.from_json(caller) if caller else None,
            "dialstatus": str(data.get("dialstatus", "")),
            "dialstring": str(data.get("dialstring", "")),
            "forward": str(data.get("forward", "")),
        }

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.peer.id,) + ((self.caller.id,) if self.caller else ())


@dataclass(frozen=True)
class ApplicationReplaced(Event):
    pass


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event type flowengine does not type yet; `raw` holds everything."""


class EventParseError(ValueError):
    """Asterisk sent an event whose JSON lacks a field its type requires."""


def parse_event(data: JSON) -> Event:
    """Turn one WebSocket message into its typed event (UnknownEvent for untyped types)."""
    kind = str(data.get("type", ""))
    cls: builtins.type[Event] = Event.registry.get(kind, UnknownEvent)
    common: dict[str, Any] = {
        "type": kind,
        "application": str(data.get("application", "")),
        "timestamp": str(data.get("timestamp", "")),
        "asterisk_id": str(data.get("asterisk_id", "")),
        "raw": data,
    }
    try:
        return cls(**common, **cls.fields_from_json(data))
    except (KeyError, TypeError) as exc:
        raise EventParseError(f"ARI event {kind!r} is malformed: missing {exc}") from exc

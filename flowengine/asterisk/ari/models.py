"""ARI resource snapshots (channel, bridge, playback...) parsed from Asterisk's JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# Channel technologies that flowengine itself creates and that are never callers.
HELPER_TECHNOLOGIES = ("UnicastRTP/", "Snoop/", "AudioSocket/", "WebSocket/")


@dataclass(frozen=True)
class CallerId:
    name: str = ""
    number: str = ""

    @classmethod
    def from_json(cls, data: JSON | None) -> CallerId:
        data = data or {}
        return cls(name=str(data.get("name", "")), number=str(data.get("number", "")))


@dataclass(frozen=True)
class DialplanLocation:
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""

    @classmethod
    def from_json(cls, data: JSON | None) -> DialplanLocation:
        data = data or {}
        return cls(
            context=str(data.get("context", "")),
            exten=str(data.get("exten", "")),
            priority=int(data.get("priority", 0) or 0),
            app_name=str(data.get("app_name", "")),
            app_data=str(data.get("app_data", "")),
        )


@dataclass(frozen=True)
class Channel:
    """A channel as Asterisk described it at one moment."""

    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = field(default_factory=CallerId)
    connected: CallerId = field(default_factory=CallerId)
    dialplan: DialplanLocation = field(default_factory=DialplanLocation)
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: JSON) -> Channel:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", "")),
            state=str(data.get("state", "")),
            caller=CallerId.from_json(data.get("caller")),
            connected=CallerId.from_json(data.get("connected")),
            dialplan=DialplanLocation.from_json(data.get("dialplan")),
            creationtime=str(data.get("creationtime", "")),
            language=str(data.get("language", "")),
            channelvars={str(k): str(v) for k, v in (data.get("channelvars") or {}).items()},
        )

    @property
    def technology(self) -> str:
        return self.name.split("/", 1)[0] if "/" in self.name else ""

    @property
    def is_helper_technology(self) -> bool:
        """UnicastRTP (externalMedia), Snoop... channels are ours, never callers."""
        return self.name.startswith(HELPER_TECHNOLOGIES)


@dataclass(frozen=True)
class Bridge:
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    name: str = ""
    channels: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: JSON) -> Bridge:
        return cls(
            id=str(data["id"]),
            technology=str(data.get("technology", "")),
            bridge_type=str(data.get("bridge_type", "")),
            bridge_class=str(data.get("bridge_class", "")),
            name=str(data.get("name", "")),
            channels=tuple(str(c) for c in data.get("channels") or ()),
        )


@dataclass(frozen=True)
class Playback:
    id: str
    media_uri: str = ""
    target_uri: str = ""
    state: str = ""

    @classmethod
    def from_json(cls, data: JSON) -> Playback:
        return cls(
            id=str(data["id"]),
            media_uri=str(data.get("media_uri", "")),
            target_uri=str(data.get("target_uri", "")),
            state=str(data.get("state", "")),
        )


@dataclass(frozen=True)
class LiveRecording:
    name: str
    format: str = ""
    state: str = ""
    target_uri: str = ""
    duration: int = 0
    cause: str = ""

    @classmethod
    def from_json(cls, data: JSON) -> LiveRecording:
        return cls(
            name=str(data["name"]),
            format=str(data.get("format", "")),
            state=str(data.get("state", "")),
            target_uri=str(data.get("target_uri", "")),
            duration=int(data.get("duration", 0) or 0),
            cause=str(data.get("cause", "")),
        )

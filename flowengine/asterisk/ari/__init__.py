"""ARI: the REST API and events WebSocket of one Asterisk, as typed events and handles."""
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle, PlaybackHandle
from flowengine.asterisk.ari.rest import (
    AriAuthError,
    AriConflict,
    AriError,
    AriHTTPError,
    AriNotFound,
    AriUnavailable,
    AriUnprocessable,
)

__all__ = [
    "AriAuthError",
    "AriClient",
    "AriConflict",
    "AriError",
    "AriHTTPError",
    "AriNotFound",
    "AriUnavailable",
    "AriUnprocessable",
    "BridgeHandle",
    "ChannelHandle",
    "PlaybackHandle",
]

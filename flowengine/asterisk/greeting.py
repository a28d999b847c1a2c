"""The greeting call handler: answer, play one media URI, hang up (the engine before flows run)."""
from __future__ import annotations

import logging

from flowengine.asterisk.app import Call, CallHandler

log = logging.getLogger(__name__)


def greeting_handler(media: str, timeout: float = 60.0) -> CallHandler:
    """A handler that answers, plays `media` (e.g. `sound:hello-world`) to the end, hangs up."""

    async def handle(call: Call) -> None:
        await call.until_hangup(call.channel.answer())
        log.info("answered; playing %s", media)
        playback = await call.until_hangup(call.channel.play(media))
        try:
            finished = await call.until_hangup(playback.wait(timeout))
        finally:
            playback.close()
        log.info("playback %s %s", finished.media_uri, finished.state)
        await call.channel.hangup("normal")

    return handle

"""DTMF during an AI call: each key the caller presses goes to the model as a user message (reference 4.3)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDtmfReceived, Event
from flowengine.asterisk.ari.subscriptions import Subscription
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)


def dtmf_text(digit: str, duration_ms: int) -> str:
    """VoIPBIN's DTMF user message."""
    return f"type: DTMF_EVENT\ndigit: {digit}\nduration: {duration_ms}\n"


class DtmfFeed:
    """Listens to the call's channel and hands each digit's message to `deliver`, in order."""

    def __init__(self, ari: AriClient, channel_id: str, deliver: Callable[[str], Awaitable[None]]) -> None:
        self._deliver = deliver
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks = TaskOwner(f"DTMF feed {channel_id}")
        self._tasks.start(self._pump(), name=f"dtmf-{channel_id}")
        self._sub: Subscription = ari.subscribe(self._on_event, event_type="ChannelDtmfReceived",
                                                channel_id=channel_id)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChannelDtmfReceived) and event.digit:
            self._queue.put_nowait(dtmf_text(event.digit, event.duration_ms))

    async def _pump(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await self._deliver(text)
            except Exception:
                log.exception("DTMF message not delivered to the conversation")

    async def aclose(self) -> None:
        self._sub.close()
        await self._tasks.aclose()

"""DTMF during an AI call: each key the caller presses goes to the model as a user message (reference 4.3);
while the agent's last question asks for digits, the keys pressed are gathered and sent as one answer instead,
ended by '#' or a pause."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDtmfReceived, Event
from flowengine.asterisk.ari.subscriptions import Subscription
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

DIGITS_PAUSE_S = 3.0  # a pause this long after the last key ends a typed answer
END_KEY = "#"


def dtmf_text(digit: str, duration_ms: int) -> str:
    """VoIPBIN's DTMF user message."""
    return f"type: DTMF_EVENT\ndigit: {digit}\nduration: {duration_ms}\n"


class DtmfFeed:
    """Listens to the call's channel and hands each digit's message to `deliver`, in order. `wants_digits`
    says whether the agent has just asked for digits (a phone number, a code): then keys are gathered until
    '#' or `pause_s` without a key, and the digits typed are delivered as the caller's answer."""

    def __init__(self, ari: AriClient, channel_id: str, deliver: Callable[[str], Awaitable[None]], *,
                 wants_digits: Callable[[], bool] = lambda: False, pause_s: float = DIGITS_PAUSE_S) -> None:
        self._deliver = deliver
        self._wants_digits = wants_digits
        self._pause_s = pause_s
        self._queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._tasks = TaskOwner(f"DTMF feed {channel_id}")
        self._tasks.start(self._pump(), name=f"dtmf-{channel_id}")
        self._sub: Subscription = ari.subscribe(self._on_event, event_type="ChannelDtmfReceived",
                                                channel_id=channel_id)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChannelDtmfReceived) and event.digit:
            self.press(event.digit, event.duration_ms)

    def press(self, digit: str, duration_ms: int = 100) -> None:
        """One key pressed (from the channel's events)."""
        self._queue.put_nowait((digit, duration_ms))

    async def _pump(self) -> None:
        while True:
            digit, duration_ms = await self._queue.get()
            if self._wants_digits() and (digit.isdigit() or digit == END_KEY):
                text = await self._typed(digit)
            else:
                text = dtmf_text(digit, duration_ms)
            if not text:
                continue
            try:
                await self._deliver(text)
            except Exception:
                log.exception("DTMF message not delivered to the conversation")

    async def _typed(self, first: str) -> str:
        """The digits typed from `first` on, up to '#' (not included) or a pause; other keys are ignored."""
        typed: list[str] = []
        digit = first
        while True:
            if digit == END_KEY:
                break
            if digit.isdigit():
                typed.append(digit)
            try:
                digit, _ = await asyncio.wait_for(self._queue.get(), self._pause_s)
            except TimeoutError:
                break
        return "".join(typed)

    async def aclose(self) -> None:
        self._sub.close()
        await self._tasks.aclose()

"""DTMF on a call's activeflow: digits land in `voipbin.call.digits` as VoIPBIN's rules say."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from flowengine.asterisk.ari.events import ChannelDtmfReceived, Event
from flowengine.flow.variables import Variables
from flowengine.flow.varnames import CALL_DIGITS

log = logging.getLogger(__name__)


class DigitBuffer:
    """Receives the call's DTMF events.

    While `digits_receive` runs, digits accumulate; during any other action a digit replaces
    the variable (VoIPBIN 1.9). Waiters (`digits_receive`, `talk` with digits_handle=next) are
    woken on every digit.
    """

    def __init__(self, variables: Variables, current_type: Callable[[], str]) -> None:
        self.variables = variables
        self.current_type = current_type
        self.received = 0
        self._waiters: list[asyncio.Future[str]] = []

    def on_event(self, event: Event) -> None:
        if not isinstance(event, ChannelDtmfReceived):
            return
        digit = event.digit
        self.received += 1
        if self.current_type() == "digits_receive":
            self.variables[CALL_DIGITS] = f"{self.variables.lookup(CALL_DIGITS)}{digit}"
        else:
            self.variables[CALL_DIGITS] = digit
        log.debug("dtmf %s -> %s=%r", digit, CALL_DIGITS, self.variables[CALL_DIGITS])
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(digit)

    @property
    def value(self) -> str:
        return str(self.variables.lookup(CALL_DIGITS) or "")

    async def next_digit(self) -> str:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await fut
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

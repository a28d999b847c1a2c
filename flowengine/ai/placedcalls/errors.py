"""Why a call could not be placed: its number or what it would run is refused (the request's fault), or the
number cannot be dialled now."""
from __future__ import annotations


class PlacedCallError(Exception):
    """Base of the failures of `PlacedCalls.place`."""


class CallRefused(PlacedCallError):
    """This engine cannot dial the number (no outbound endpoint for it, no number): nothing was stored.
    `field` names where the request gave the number (`to_number`, `customer.number`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotRunnable(CallRefused):
    """What the call would run cannot run now: the AI or team is not the customer's (or not found), or one of
    its providers cannot be used with its settings (a key gone, a language its model cannot do). Nothing was
    stored or dialled. `field` names where the request gave what is to blame (`assistantId`,
    `assistant.voice.voiceId`)."""


class DialFailed(PlacedCallError):
    """Asterisk could not dial the number now (ARI failed, or the engine has no Asterisk). The call was
    stored and ended `call.start.error-failed-to-connect`; the same request may work later."""

"""Action executors: the registry the runner looks action types up in, and what each one needs."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from flowengine.flow.registry import Registry

if TYPE_CHECKING:
    from flowengine.flow.context import ActionContext

Run = Callable[["ActionContext", Any], Awaitable[None]]
OnError = Literal["stop", "next"]


class ActionFailed(Exception):
    """An action could not do its job; the message says why (logged with the action id)."""


@dataclass(frozen=True)
class Executor:
    """How one action type runs.

    `on_error`: "stop" ends the activeflow when the action fails (VoIPBIN's flow-manager
    actions), "next" logs and moves on (its call-manager actions and the error-swallowing ones).
    `restartable`: a pause may interrupt it; it runs again from its start on resume (talk, play,
    sleep...). Actions with effects outside the call (webhooks, dialing) finish before a pause.
    `ends_call`: it hangs the call up itself, so the call's end is its doing: it is awaited to its end, not
    cancelled when the call ends (Asterisk's hangup event can overtake the answer to its own request).
    """

    type: str
    run: Run
    on_error: OnError = "next"
    restartable: bool = False
    ends_call: bool = False


EXECUTORS: Registry[Executor] = Registry("action executor")


async def cleanup(coro: Coroutine[Any, Any, None]) -> None:
    """Run an action's cleanup to its end even when the action is cancelled meanwhile (a hangup
    arriving while it releases a bridge); the cancellation is re-raised afterwards."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def executor(type_: str, *, on_error: OnError = "next", restartable: bool = False,
             ends_call: bool = False) -> Callable[[Run], Run]:
    """Register the decorated coroutine as the executor of `type_`."""

    def register(run: Run) -> Run:
        EXECUTORS.register(type_, Executor(type_, run, on_error, restartable, ends_call))
        return run

    return register

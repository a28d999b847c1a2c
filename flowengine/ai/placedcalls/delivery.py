"""Hands the news of placed calls to their front door's hooks, in order, from one worker task."""
from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flowengine.ai.placedcalls.hooks import CallHooks
from flowengine.events import Event
from flowengine.store import NotFoundError
from flowengine.store.frontdoor import FrontCall
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class News:
    call: FrontCall  # as it was when this happened (the status hooks see each status)
    event: Event | None  # None: a status change


class Delivery:
    """A bounded queue (full: the news is dropped and logged, a call never waits) and the worker draining
    it into `hooks_for(kind)`; a hook's failure is logged and the next news delivered."""

    def __init__(self, hooks_for: Callable[[str], CallHooks | None], tasks: TaskOwner,
                 maxsize: int = 10_000) -> None:
        self.hooks_for = hooks_for
        self.queue: asyncio.Queue[News] = asyncio.Queue(maxsize)
        self._tasks = tasks
        self._worker: asyncio.Task[None] | None = None
        self.closed = False

    def put(self, news: News) -> None:
        if self.closed:  # the service is closing: its calls are being cut, nobody is told any more
            return
        if self._worker is None:
            # one worker shared by every call: it carries no call's log context
            self._worker = self._tasks.start(self._work(), name="placed-calls-delivery",
                                             context=contextvars.Context())
        if self.queue.full():
            log.warning("placed call hook queue full: news of call %s is dropped", news.call.id)
            return
        self.queue.put_nowait(news)

    async def _work(self) -> None:
        while True:
            news = await self.queue.get()
            try:
                hooks = self.hooks_for(news.call.kind)
                if hooks is not None:
                    if news.event is None:
                        await hooks.status(news.call)
                    else:
                        await hooks.event(news.call, news.event)
            except NotFoundError:
                pass  # the call was deleted meanwhile
            except Exception:
                log.exception("placed call hook delivery failed (call %s)", news.call.id)
            finally:
                self.queue.task_done()

    def close(self) -> None:
        """Takes no more news (the worker itself ends with the task owner)."""
        self.closed = True

    async def drain(self, timeout: float = 10.0) -> None:
        """Until every queued news was handed over (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self.queue.join()

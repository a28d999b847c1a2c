"""Owned background tasks: every task has an owner that keeps it, reports its failure and ends it on close."""
from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskOwner:
    """The tasks one owner (a call, a service, the engine) started in the background.

    Unlike `asyncio.TaskGroup`, one task's failure does not cancel its siblings (a failed webhook
    delivery must not end a call): the failure is logged with the owner's name and the task dropped.
    `aclose()` lets running tasks finish for up to `timeout` seconds, then cancels and awaits them,
    so nothing the owner started outlives it. As an async context manager it closes on exit
    (cancelling what still runs)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def start(self, coro: Coroutine[Any, Any, T], *, name: str | None = None,
              context: contextvars.Context | None = None) -> asyncio.Task[T]:
        """Runs `coro` as a task of this owner. `context=contextvars.Context()` starts it with no
        inherited context (log ids of the caller), for tasks shared by many calls."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name} is closed: it starts no more tasks")
        task = asyncio.get_running_loop().create_task(coro, name=name or f"{self.name}-task", context=context)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("%s: background task %s failed", self.name, task.get_name(), exc_info=error)

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        return frozenset(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self, timeout: float | None = 0.0) -> None:
        """Waits up to `timeout` s (None: as long as they run) for the running tasks, and for those they
        start meanwhile (a hangup's bookkeeping while calls are hung up), then cancels the rest and awaits
        them. Cancelling the close cancels them too. Afterwards the owner refuses new tasks."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while self._tasks and (deadline is None or loop.time() < deadline):
                await asyncio.wait(set(self._tasks), timeout=None if deadline is None else deadline - loop.time())
        finally:
            self._closed = True
            while self._tasks:
                tasks = set(self._tasks)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

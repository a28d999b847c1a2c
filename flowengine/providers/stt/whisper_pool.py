"""A pool of model workers: one loaded model, N worker threads that run callables on it, behind the media clock.

CTranslate2 runs one request per replica (`inter_threads`) and releases the GIL while it computes,
so a model loaded with `num_workers=N` serves N Python threads at once. The pool owns those N
threads; they run at background priority (`providers.priority`), and so do the compute threads
the model creates, because the model is loaded on one of them. Anything that needs the model
(transcription, candidate scoring) goes through `run()`.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from flowengine.providers import priority

log = logging.getLogger(__name__)

M = TypeVar("M")
T = TypeVar("T")


class PoolClosed(RuntimeError):
    """The pool was shut down; nothing more runs on it."""


def default_workers() -> int:
    """One worker per core, at most 4 (tiny and base models: more replicas only add memory traffic)."""
    return max(1, min(os.cpu_count() or 1, 4))


class ModelPool(Generic[M]):
    """`load(workers)` builds the model (it must serve `workers` threads at once); `run(fn)` calls `fn(model)`
    on a free worker, in order of arrival."""

    def __init__(self, load: Callable[[int], M], *, workers: int = 0, name: str = "model",
                 background: bool = True) -> None:
        self.workers = workers or default_workers()
        self.name = name
        init = priority.background_thread if background else None
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=name, initializer=init)
        self._closed = False
        try:
            # Loaded on a worker: the model's own compute threads inherit its priority.
            self.model: M = self.executor.submit(load, self.workers).result()
        except BaseException:
            self.executor.shutdown(wait=False)
            raise

    async def run(self, fn: Callable[[M], T], *, timeout: float | None = None) -> T:
        """`fn(model)` on a worker. On timeout the worker cannot be interrupted: it finishes in the background
        and the pool has one worker fewer until then."""
        if self._closed:
            raise PoolClosed(f"the {self.name} pool is shut down")
        loop = asyncio.get_running_loop()
        model = self.model
        future = loop.run_in_executor(self.executor, fn, model)
        return await (future if timeout is None else asyncio.wait_for(future, timeout))

    def run_sync(self, fn: Callable[[M], T]) -> T:
        """`fn(model)` on a worker, from a thread that is not the event loop's (waits for the result)."""
        if self._closed:
            raise PoolClosed(f"the {self.name} pool is shut down")
        return self.executor.submit(fn, self.model).result()

    def shutdown(self, *, wait: bool = True) -> None:
        """No new work; queued work is cancelled, running work finishes (awaited when `wait`)."""
        self._closed = True
        self.executor.shutdown(wait=wait, cancel_futures=True)

    @property
    def closed(self) -> bool:
        return self._closed

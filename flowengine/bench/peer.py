"""A benchmark's peer (callers, provider fakes, the RTP far end) in a process of its own, so its CPU is not the
engine's: spawned with one end of a pipe, joined (and killed if it hangs) when the benchmark is done."""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from typing import Any


@contextmanager
def peer_process(target: Callable[..., Any], *args: Any, join_timeout: float, stop: bool = False) -> Iterator[Connection]:
    """`target(child_end, *args)` in a spawned process; yields the parent's end of the pipe. On exit `stop` sends
    "stop" first (a peer that runs until told), then the process is joined for `join_timeout` s, else killed."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child, *args), daemon=True)
    process.start()
    try:
        yield parent
    finally:
        if stop:
            with suppress(OSError, EOFError):
                parent.send("stop")
        process.join(timeout=join_timeout)
        if process.is_alive():
            process.kill()
            process.join()

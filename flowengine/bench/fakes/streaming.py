"""What the fakes that stream an HTTP answer share: noticing the client hang up, and breaking the connection."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from flowengine.bench.fakes.server import Recorded


@asynccontextmanager
async def watched(entry: Recorded) -> AsyncIterator[None]:
    """Around writing a streamed answer: a client that hangs up (cancelling the handler, or a write on a closed
    connection) is recorded as `closed_by_client`; the end is `closed_at`."""
    try:
        yield
    except (asyncio.CancelledError, ConnectionResetError):
        entry.closed_by_client = True
        raise
    finally:
        entry.closed_at = asyncio.get_running_loop().time()


def drop(request: web.Request) -> None:
    """Break the connection under the answer being streamed (no end of the chunked body)."""
    if request.transport is not None:
        request.transport.close()

"""What the WebSocket voices share: opening the vendor's socket (a failed upgrade becomes a refusal or a retry),
reading its JSON messages with a time limit, and telling a clean end from a drop."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from flowengine.providers.cloud import READ_TIMEOUT_S, CloudClient, RefusedError, TransientError

CLOSE_TIMEOUT_S = 1.0  # waiting for the vendor's close frame after ours: a barge-in must not linger


def status_error(vendor: str, status: int, detail: str) -> RefusedError | TransientError:
    """An HTTP status as raise_for_answer judges it: 401/403 the key, other 4xx the request (both for good),
    408/429/5xx worth a retry."""
    if status in (401, 403):
        return RefusedError(f"{vendor} refused the API key (HTTP {status}): {detail}")
    if 400 <= status < 500 and status not in (408, 429):
        return RefusedError(f"{vendor} answered HTTP {status}: {detail}")
    return TransientError(f"{vendor} answered HTTP {status}: {detail}")


@asynccontextmanager
async def connect(client: CloudClient, url: str, *, headers: Mapping[str, str],
                  params: Mapping[str, str] | None = None,
                  read_timeout_s: float = READ_TIMEOUT_S) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """The vendor's socket, closed on the way out (also when the caller is closed or cancelled). The upgrade and
    every receive are bounded by `read_timeout_s` (a hung vendor is a TimeoutError, which is retried)."""
    try:
        async with asyncio.timeout(read_timeout_s):
            ws = await client.http.ws_connect(
                url, headers=dict(headers), params=dict(params or {}), autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_receive=read_timeout_s, ws_close=CLOSE_TIMEOUT_S))
    except aiohttp.WSServerHandshakeError as exc:
        raise status_error(client.vendor, exc.status, exc.message or "the WebSocket upgrade failed") from None
    try:
        yield ws
    finally:
        await ws.close()


async def receive_json(ws: aiohttp.ClientWebSocketResponse, vendor: str) -> dict[str, Any] | None:
    """The next JSON object from the vendor; None when it closed the socket normally (a close frame with 1000).
    Another close code, a connection cut without a close frame, or a message that is not a JSON object raises
    TransientError (the base retries it only while nothing was played)."""
    msg = await ws.receive()
    if msg.type == aiohttp.WSMsgType.TEXT:
        try:
            data = json.loads(msg.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise TransientError(f"{vendor} sent a message that is not its protocol: {str(msg.data)[:80]!r}")
        return data
    if msg.type == aiohttp.WSMsgType.CLOSE:
        if msg.data == aiohttp.WSCloseCode.OK:
            return None
        reason = f": {msg.extra}" if msg.extra else ""
        raise TransientError(f"{vendor} closed the socket with code {msg.data}{reason}")
    if msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
        # no close frame: the connection was cut (aiohttp reports a bare EOF as CLOSED with code 1000)
        raise TransientError(f"{vendor} dropped the connection")
    if msg.type == aiohttp.WSMsgType.ERROR:
        raise TransientError(f"{vendor} socket failed: {msg.data}")
    raise TransientError(f"{vendor} sent an unexpected {msg.type.name} frame")

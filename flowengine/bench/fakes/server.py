"""The base of every provider fake: an aiohttp server on 127.0.0.1, its key check, injected latency and faults,
and a record of what each client sent."""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from aiohttp import web


@dataclass
class Faults:
    """What the fake does wrong, for fault tests. Counts are consumed by requests/sockets as they come."""

    latency_s: float = 0.0  # before the first byte of every answer (the network and the provider's think time)
    chunk_delay_s: float = 0.0  # between streamed chunks / messages
    status: int = 0  # answer this HTTP status (e.g. 500, 429, 503) ...
    status_times: int = 0  # ... to the next N requests (0 with status set: every request)
    drop_after: int = -1  # close the stream or socket abruptly after N chunks/messages sent (-1: never)
    drop_times: int = 1  # ... for the next N streams
    garbage: bool = False  # send bytes that are not the protocol
    hang: bool = False  # accept, then never answer


@dataclass
class Recorded:
    """One request or socket: path, query, headers, and its body (JSON/text) or the messages the client sent."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    messages: list[Any] = field(default_factory=list)  # WebSocket: text (parsed JSON when it is) and bytes
    audio_bytes: int = 0
    closed_by_client: bool = False  # the client went away before the stream ended (barge-in, cancel)
    closed_at: float = 0.0  # loop time the stream ended


class FakeServer:
    """`async with Fake(...) as fake:` then point a provider at `fake.base_url` (http://) or `fake.ws_url`.
    Subclasses add routes in `routes(app)`; handlers call `refused(request)` first."""

    api_key = "test-key"

    def __init__(self, *, api_key: str = "test-key", faults: Faults | None = None) -> None:
        self.api_key = api_key
        self.faults = faults or Faults()
        self.requests: list[Recorded] = []
        self.base_url = ""
        self.ws_url = ""
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def authorized(self, request: web.Request) -> bool:
        """The vendor's auth header carries `api_key` (subclasses say which header)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 << 20)
        self.routes(app)
        # handler_cancellation: a client that hung up ends its (sleeping, streaming) handler at once
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def record(self, request: web.Request, body: Any = None) -> Recorded:
        entry = Recorded(request.path, dict(request.query), dict(request.headers), body)
        self.requests.append(entry)
        return entry

    async def refused(self, request: web.Request) -> web.Response | None:
        """The answer to give instead of serving: a bad key (401), an injected status, a hang; None to serve.
        Waits the injected latency first."""
        faults = self.faults
        if faults.hang:
            await asyncio.sleep(3600)
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if not self.authorized(request):
            return self.error(401, "invalid credentials")
        if faults.status:
            status = faults.status
            if faults.status_times > 0:
                faults.status_times -= 1
                if faults.status_times == 0:
                    faults.status = 0
            return self.error(status, "injected fault")
        return None

    def error(self, status: int, message: str) -> web.Response:
        """The vendor's error body (subclasses override with its documented shape)."""
        return web.json_response({"error": message}, status=status)

    def drop_now(self, sent: int) -> bool:
        """True when an injected drop says this stream must break after `sent` chunks."""
        faults = self.faults
        if faults.drop_after < 0 or sent < faults.drop_after or faults.drop_times <= 0:
            return False
        faults.drop_times -= 1
        return True

    async def pace(self) -> None:
        if self.faults.chunk_delay_s:
            await asyncio.sleep(self.faults.chunk_delay_s)


def tone(seconds: float, rate: int, *, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    """int16 mono: what a fake voice 'says' (a tone as long as the text would take)."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    return (np.sin(2 * math.pi * freq * t) * level * 32767).astype(np.int16)


def speech_seconds(text: str) -> float:
    """How long a voice takes to say `text`: ~15 characters a second, at least 0.2 s."""
    return max(0.2, len(text) / 15.0)


def loud(pcm: np.ndarray, threshold: float = 500.0) -> bool:
    """The frame has speech energy (RMS over `threshold`): how a fake recogniser tells speech from silence."""
    return pcm.size > 0 and float(np.sqrt(np.mean(pcm.astype(np.float32) ** 2))) > threshold

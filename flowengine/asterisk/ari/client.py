"""ARI client: events WebSocket with reconnect and resync, REST repositories, subscriptions."""
from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Self

import aiohttp

from flowengine.asterisk.ari.events import Event, EventParseError, parse_event
from flowengine.asterisk.ari.handles import Bridges, Channels, Playbacks
from flowengine.asterisk.ari.models import Bridge, Channel
from flowengine.asterisk.ari.rest import AriAuthError, AriRest, AriUnavailable
from flowengine.asterisk.ari.subscriptions import EventHub, EventQueue, Handler, Subscription
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

ResyncHook = Callable[[list[Channel], list[Bridge]], Awaitable[None]]


class AriClient:
    """One ARI application on one Asterisk.

    `start()` checks the credentials and opens the events WebSocket; a background task keeps it
    open, reconnecting with exponential backoff when Asterisk goes away. After each reconnect
    the resync hooks receive the channels and bridges that exist now, so owners can drop what
    disappeared while the link was down.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        app: str = "flowengine",
        *,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.app = app
        self.rest = AriRest(self.url, username, password, request_timeout)
        self.hub = EventHub()
        self.channels = Channels(self)
        self.bridges = Bridges(self)
        self.playbacks = Playbacks(self)
        self.owned_channels: set[str] = set()
        self.connected = asyncio.Event()
        self.connections = 0
        self.events_received = 0
        self.asterisk_version = ""
        self.replaced = False  # another WebSocket took our application over: we hear nothing until we reconnect
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._resync_hooks: list[ResyncHook] = []
        self._tasks = TaskOwner(f"ARI client {app}")  # the events loop
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self.hub.subscribe(self._forget_channel, event_type="ChannelDestroyed")

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, timeout: float = 10.0) -> None:
        """Verify credentials, open the events WebSocket and wait until it is connected."""
        info = await self.rest.get("/asterisk/info")
        self.asterisk_version = str(info.get("system", {}).get("version", ""))
        # shared by every call: it carries no caller's log context
        self._tasks.start(self._run(), name=f"ari-events-{self.app}", context=contextvars.Context())
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            await self.aclose()
            raise AriUnavailable(f"events WebSocket of {self.url} did not open in {timeout:.0f}s") from None

    async def aclose(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        await self._tasks.aclose()
        await self.rest.aclose()
        self.connected.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- subscriptions -----------------------------------------------------------------------
    def subscribe(
        self, handler: Handler, *, event_type: str | None = None, channel_id: str | None = None
    ) -> Subscription:
        return self.hub.subscribe(handler, event_type=event_type, channel_id=channel_id)

    def events(self, channel_id: str | None = None) -> EventQueue:
        """An awaitable queue of the events of one channel (or of all); close it when done."""
        return EventQueue(self.hub, channel_id)

    def on_resync(self, hook: ResyncHook) -> None:
        self._resync_hooks.append(hook)

    def _forget_channel(self, event: Event) -> None:
        for channel_id in event.channel_ids:
            self.owned_channels.discard(channel_id)

    def is_owned(self, channel: Channel) -> bool:
        """True for channels flowengine created itself (externalMedia, snoop, originated legs)."""
        return channel.id in self.owned_channels or channel.is_helper_technology

    # -- the events loop ---------------------------------------------------------------------
    def _ws_url(self) -> str:
        base = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{base}/ari/events?app={self.app}&subscribeAll=false"

    async def _run(self) -> None:
        attempt = 0
        while True:
            was_connected = False
            try:
                async with self.rest.session.ws_connect(self._ws_url(), heartbeat=5.0) as ws:
                    self._ws = ws
                    self.replaced = False  # connecting registered the application for this WebSocket
                    attempt = 0
                    self.connections += 1
                    if self.connections > 1:
                        log.info("ARI events WebSocket reconnected to %s", self.url)
                        await self._resync()
                    self.connected.set()
                    was_connected = True
                    await self._read(ws)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status == 401:
                    log.error("ARI refused the events WebSocket: wrong username or password")
                else:
                    log.warning("ARI events WebSocket refused: HTTP %s", exc.status)
            except (aiohttp.ClientError, OSError, TimeoutError, AriUnavailable) as exc:
                if attempt == 0:
                    log.warning("ARI events WebSocket unavailable: %s", exc or type(exc).__name__)
            finally:
                self._ws = None
                self.connected.clear()
            if self._closing:
                return
            if was_connected:
                log.warning("ARI events WebSocket to %s closed; reconnecting", self.url)
            delay = min(self._reconnect_max, self._reconnect_min * 2**attempt)
            attempt += 1
            await asyncio.sleep(delay * (0.75 + random.random() / 2))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                if message.type == aiohttp.WSMsgType.ERROR:
                    log.warning("ARI events WebSocket error: %s", ws.exception())
                continue
            try:
                event = parse_event(json.loads(message.data))
            except (ValueError, EventParseError) as exc:
                log.warning("dropped an unreadable ARI event: %s", exc)
                continue
            self.events_received += 1
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if event.type == "ApplicationReplaced":
            # Asterisk keeps this WebSocket open but sends it nothing more: no call reaches us. Taking the
            # application back would take it from the other client (a second engine), so we say so instead.
            self.replaced = True
            log.error("another WebSocket took over the ARI application %r on %s: this engine receives no calls "
                      "until it reconnects (restart it once the other client is stopped)", self.app, self.url)
        self.hub.dispatch(event)

    @property
    def problem(self) -> str:
        """Why this client does not receive its application's events ('' when it does)."""
        if self.replaced:
            return f"ARI application {self.app!r} taken over by another WebSocket"
        if not self.connected.is_set():
            return f"ARI events WebSocket to {self.url} disconnected"
        return ""

    async def _resync(self) -> None:
        try:
            channels = await self.channels.list()
            bridges = await self.bridges.list()
        except (AriUnavailable, AriAuthError) as exc:
            log.warning("resync after reconnect failed: %s", exc)
            return
        live = {c.id for c in channels}
        self.owned_channels &= live
        for hook in self._resync_hooks:
            try:
                await hook(channels, bridges)
            except Exception:
                log.exception("ARI resync hook failed")

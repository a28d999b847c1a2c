"""The notification bus between engine nodes: typed JSON messages on named channels, through the store's database.

On PostgreSQL a message is a `NOTIFY` (sent with `pg_notify` in a short transaction, so it leaves on commit) and
each bus holds one dedicated connection that `LISTEN`s to its channels; when that connection drops, the bus
reconnects and listens again (NOTIFY is not durable: what was sent meanwhile is lost, and requests over the bus
time out rather than wait). On SQLite (one node) the bus is in-process: every bus of the same database in this
process shares one hub. Payloads are JSON under PostgreSQL's 8000-byte limit; channel names are lower-case
identifiers (`node_channel()` makes a node's)."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import uuid4

from sqlalchemy import text

from flowengine.store.database import Database
from flowengine.store.errors import StoreError, StoreUnavailableError
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES: Final = 7999
"""PostgreSQL refuses a NOTIFY payload of 8000 bytes or more."""
CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
QUEUE_LIMIT: Final = 10_000
RECONNECT_MIN_S: Final = 0.1
RECONNECT_MAX_S: Final = 5.0
KEEPALIVE_S: Final = 5.0


class MessageError(StoreError):
    """A message that cannot travel on the bus (too large, not JSON, a bad channel name)."""


@dataclass(frozen=True)
class Message:
    """One bus message. `type` says what `body` holds; `id` pairs a reply with its request (`reply_to`: the
    channel the sender listens on for it, "" when no reply is expected)."""

    type: str
    body: dict[str, Any] = field(default_factory=dict)
    sender: str = ""
    id: str = field(default_factory=lambda: uuid4().hex)
    reply_to: str = ""

    def encode(self) -> str:
        payload = json.dumps({"type": self.type, "body": self.body, "sender": self.sender, "id": self.id,
                              "reply_to": self.reply_to}, separators=(",", ":"), ensure_ascii=False)
        size = len(payload.encode())
        if size > MAX_PAYLOAD_BYTES:
            raise MessageError(f"bus message {self.type!r} is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}")
        return payload

    @classmethod
    def decode(cls, payload: str) -> Message:
        try:
            data = json.loads(payload)
        except ValueError as error:
            raise MessageError(f"not a bus message: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str) or not isinstance(
                data.get("body", {}), dict):
            raise MessageError(f"not a bus message: {payload[:80]!r}")
        return cls(type=data["type"], body=data.get("body", {}), sender=str(data.get("sender", "")),
                   id=str(data.get("id", "")), reply_to=str(data.get("reply_to", "")))


def check_channel(channel: str) -> str:
    if not CHANNEL.match(channel):
        raise MessageError(f"bus channel {channel!r}: use 1-63 lower-case letters, digits and _, a letter first")
    return channel


def node_channel(node_id: str) -> str:
    """The channel a node listens on (a digest keeps any node id a valid identifier)."""
    return "flowengine_node_" + hashlib.sha256(node_id.encode()).hexdigest()[:32]


class Subscription:
    """The messages of one channel, in arrival order, until `close()`."""

    def __init__(self, bus: NotifyBus, channel: str) -> None:
        self.channel = channel
        self.dropped = 0
        self._bus = bus
        self._queue: asyncio.Queue[Message] = asyncio.Queue()

    def deliver(self, message: Message) -> None:
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.dropped += 1
            log.warning("bus channel %s: %d messages waiting, message %s dropped", self.channel, QUEUE_LIMIT,
                        message.type)
            return
        self._queue.put_nowait(message)

    async def get(self) -> Message:
        return await self._queue.get()

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            yield await self._queue.get()

    async def close(self) -> None:
        await self._bus.unlisten(self)


class _Hub:
    """The in-process bus of one SQLite database."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, set[Subscription]] = {}

    def publish(self, channel: str, payload: str) -> None:
        for sub in list(self.subscriptions.get(channel, ())):
            sub.deliver(Message.decode(payload))


_HUBS: dict[str, _Hub] = {}


class NotifyBus:
    """`listen(channel)` returns a Subscription once the channel is listened to; `send(channel, message)`
    reaches every subscription of that channel on every node. `connected` is clear while PostgreSQL's
    listening connection is down."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._subscriptions: dict[str, set[Subscription]] = {}
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._conn: Any = None  # asyncpg.Connection while connected
        self._lock = asyncio.Lock()  # LISTEN/UNLISTEN and (re)connection, one at a time
        self._lost = asyncio.Event()
        self._tasks = TaskOwner("notification bus")
        self._hub: _Hub | None = None
        if db.dialect == "sqlite":
            self._hub = _HUBS.setdefault(db.url.render_as_string(hide_password=False), _Hub())
            self.connected.set()
        else:
            self._tasks.start(self._hold(), name="notification bus connection")

    async def listen(self, channel: str, *, timeout_s: float = 10.0) -> Subscription:
        sub = Subscription(self, check_channel(channel))
        if self._hub is not None:
            self._hub.subscriptions.setdefault(channel, set()).add(sub)
            return sub
        async with self._lock:
            first = channel not in self._subscriptions
            self._subscriptions.setdefault(channel, set()).add(sub)
            if first and self._conn is not None:
                with contextlib.suppress(Exception):  # a dropped connection listens again when it is back
                    await self._conn.add_listener(channel, self._on_notify)
        try:
            async with asyncio.timeout(timeout_s):
                await self.connected.wait()
        except TimeoutError:
            await self.unlisten(sub)
            raise StoreUnavailableError(f"cannot listen on {self._db.safe_url}: no connection in {timeout_s} s"
                                        ) from None
        return sub

    async def unlisten(self, sub: Subscription) -> None:
        if self._hub is not None:
            self._hub.subscriptions.get(sub.channel, set()).discard(sub)
            return
        async with self._lock:
            subs = self._subscriptions.get(sub.channel, set())
            subs.discard(sub)
            if not subs:
                self._subscriptions.pop(sub.channel, None)
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        await self._conn.remove_listener(sub.channel, self._on_notify)

    async def send(self, channel: str, message: Message) -> None:
        """Sends `message` (at once on SQLite; on PostgreSQL when the NOTIFY's transaction commits)."""
        payload = message.encode()
        check_channel(channel)
        if self._hub is not None:
            self._hub.publish(channel, payload)
            return
        async with self._db.write() as conn:
            await conn.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload})

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        try:
            message = Message.decode(payload)
        except MessageError as error:
            log.warning("bus channel %s: %s", channel, error)
            return
        for sub in list(self._subscriptions.get(channel, ())):
            sub.deliver(message)

    async def _connect(self) -> Any:
        import asyncpg  # type: ignore[import-untyped]  # the PostgreSQL driver (a dependency, untyped)

        url = self._db.url
        conn = await asyncpg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                     database=url.database, timeout=10)
        conn.add_termination_listener(lambda _c: self._lost.set())
        return conn

    async def _hold(self) -> None:
        """Keeps the listening connection: connect, LISTEN to every channel, wait for a loss, again."""
        delay = RECONNECT_MIN_S
        while True:
            self._lost.clear()
            try:
                async with self._lock:
                    conn = await self._connect()
                    for channel in self._subscriptions:
                        await conn.add_listener(channel, self._on_notify)
                    self._conn = conn
                self.connected.set()
                delay = RECONNECT_MIN_S
                await self._watch(conn)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - whatever broke the connection, it is made again
                log.warning("notification bus on %s: %s; reconnecting in %.1f s", self._db.safe_url,
                            error, delay)
            finally:
                self.connected.clear()
                conn, self._conn = self._conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX_S, delay * 2)

    async def _watch(self, conn: Any) -> None:
        """Returns when the connection is lost (termination, or a keepalive that fails)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(KEEPALIVE_S):
                    await self._lost.wait()
            if self._lost.is_set():
                raise StoreUnavailableError("the listening connection was closed")
            async with self._lock, asyncio.timeout(KEEPALIVE_S):
                await conn.execute("SELECT 1")

    async def aclose(self) -> None:
        await self._tasks.aclose()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None
        self.connected.clear()

"""Requests between engine nodes over the notification bus: one to a node's channel, its reply on the sender's.

A node serves the request types it registered with `handle()`; a request names its reply channel and an id,
and the reply (type `reply`) carries either the handler's result or its failure. A request waits at most its
timeout: a node that is down, or a bus that lost a NOTIFY while reconnecting, gives NodeUnreachableError,
never a wait without end."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from flowengine.store.errors import StoreError
from flowengine.store.notify import Message, MessageError, NotifyBus, Subscription, node_channel
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

REPLY: Final = "reply"

Handler = Callable[[Message], Awaitable[dict[str, Any]]]
"""Serves one request type: the request in, the result (JSON) out; an exception becomes a failed reply."""


class NodeUnreachableError(StoreError):
    """The other node did not answer in time (down, or its bus reconnecting)."""


class RemoteFailureError(StoreError):
    """The other node answered that the request failed there."""


class NodeRequests:
    """This node's end of node-to-node requests. `await start()` before serving or requesting."""

    def __init__(self, bus: NotifyBus, node_id: str) -> None:
        self.bus = bus
        self.node_id = node_id
        self.channel = node_channel(node_id)
        self.served = 0
        self._handlers: dict[str, Handler] = {}
        self._waiting: dict[str, asyncio.Future[Message]] = {}
        self._sub: Subscription | None = None
        self._tasks = TaskOwner(f"node {node_id} requests")

    def handle(self, type: str, handler: Handler) -> None:
        if type == REPLY or type in self._handlers:
            raise ValueError(f"request type {type!r} is already handled")
        self._handlers[type] = handler

    async def start(self) -> None:
        self._sub = await self.bus.listen(self.channel)
        self._tasks.start(self._receive(self._sub), name=f"node {self.node_id} requests")

    async def request(self, node_id: str, type: str, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        """Sends the request to `node_id` and returns its handler's result."""
        if self._sub is None:
            raise RuntimeError("NodeRequests.start() first")
        message = Message(type=type, body=body, sender=self.node_id, reply_to=self.channel)
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[message.id] = waiter
        try:
            await self.bus.send(node_channel(node_id), message)
            async with asyncio.timeout(timeout_s):
                reply = await waiter
        except TimeoutError:
            raise NodeUnreachableError(f"node {node_id} did not answer {type} within {timeout_s:g} s") from None
        finally:
            self._waiting.pop(message.id, None)
        if not reply.body.get("ok"):
            raise RemoteFailureError(f"node {node_id} could not {type}: {reply.body.get('error', 'no reason given')}")
        result = reply.body.get("result", {})
        return result if isinstance(result, dict) else {}

    async def _receive(self, sub: Subscription) -> None:
        async for message in sub:
            if message.type == REPLY:
                waiter = self._waiting.get(message.id)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                continue
            self._tasks.start(self._serve(message), name=f"node request {message.type} {message.id}")

    async def _serve(self, message: Message) -> None:
        handler = self._handlers.get(message.type)
        body: dict[str, Any]
        if handler is None:
            body = {"ok": False, "error": f"node {self.node_id} serves no {message.type!r} requests"}
        else:
            try:
                body = {"ok": True, "result": await handler(message)}
            except Exception as error:
                log.exception("node request %s from %s failed", message.type, message.sender)
                body = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        self.served += 1
        if not message.reply_to:
            return
        reply = Message(type=REPLY, body=body, sender=self.node_id, id=message.id)
        try:
            await self.bus.send(message.reply_to, reply)
        except MessageError as error:
            await self.bus.send(message.reply_to, Message(type=REPLY, body={"ok": False, "error": str(error)},
                                                          sender=self.node_id, id=message.id))

    async def aclose(self) -> None:
        await self._tasks.aclose()
        if self._sub is not None:
            await self._sub.close()
            self._sub = None

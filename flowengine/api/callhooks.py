"""What the Vapi and VoiceOS hooks share: the store, an http session opened on first use and a signed sender.

Each front door's hooks subclass `FrontDoorHooks` (flowengine.api.vapi.hooks, flowengine.api.voiceos.hooks) and
implement the placed-calls port (flowengine.ai.placedcalls.hooks.CallHooks); `of(calls, store)` gives the
hooks watching that service's calls of the door's kind, made and registered on first use."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Self

import aiohttp

from flowengine.api.webhooks import WebhookSender
from flowengine.store import Store
from flowengine.store.frontdoor import FrontCall, FrontKind

if TYPE_CHECKING:
    from flowengine.ai.aicall import LiveAICall
    from flowengine.ai.placedcalls.service import PlacedCalls
    from flowengine.events import Event
    from flowengine.providers.llm.base import ToolCall


class FrontDoorHooks(ABC):
    kind: ClassVar[FrontKind]

    def __init__(self, store: Store) -> None:
        self.store = store
        self._http: aiohttp.ClientSession | None = None
        self._sender: WebhookSender | None = None

    @classmethod
    def of(cls, calls: PlacedCalls, store: Store) -> Self:
        found = calls.hooks_for(cls.kind)
        if isinstance(found, cls):
            return found
        hooks = cls(store)
        calls.watch(cls.kind, hooks)
        return hooks

    @property
    def sender(self) -> WebhookSender:
        if self._sender is None:
            self._sender = WebhookSender(self.http, attempts=3, backoff_s=0.5)
        return self._sender

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    @abstractmethod
    async def status(self, call: FrontCall) -> None:
        """After each status change of `call`."""

    @abstractmethod
    async def event(self, call: FrontCall, event: Event) -> None:
        """A bus event of the call's AI call."""

    async def relay(self, call: FrontCall, live: LiveAICall, tool_call: ToolCall) -> tuple[bool, str] | None:
        """None: the tool's server.url answers (a door whose webhooks answer tools says otherwise)."""
        return None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._sender = None

"""The port a front door implements to hear about the calls it placed (Vapi server messages, VoiceOS webhooks)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from flowengine.ai.aicall import LiveAICall
    from flowengine.events import Event
    from flowengine.providers.llm.base import ToolCall
    from flowengine.store.frontdoor import FrontCall


class CallHooks(Protocol):
    """What a front door does with its calls' news. `status` and `event` are awaited one at a time, in the
    order things happened, from the service's delivery worker (a slow receiver never delays a call)."""

    async def status(self, call: FrontCall) -> None:
        """After each status change; `call` is the record as it was then (queued, ringing, in-progress, ended)."""

    async def event(self, call: FrontCall, event: Event) -> None:
        """A bus event of the call's AI call (messages, speech, status, the end-of-call report)."""

    async def relay(self, call: FrontCall, live: LiveAICall, tool_call: ToolCall) -> tuple[bool, str] | None:
        """Answers a function tool the model called: (success, result), or None to let the tool's
        server.url answer. Awaited on the call's own path (the model waits for it)."""

    async def aclose(self) -> None:
        """The service closes: release what the hooks hold (their http session)."""

"""The engine's AI calls as flow actions reach them through `Services.ai`: a port flowengine.ai fills."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flowengine.asterisk.app import Call
    from flowengine.flow.model import Action
    from flowengine.flow.variables import Variables


class AIEnding(Protocol):
    """How an AI call that an action ran has ended."""

    @property
    def end_kind(self) -> str:
        """"soft": the flow goes on; "hard": the flow ends (and hangs its call up)."""
        ...

    @property
    def ended_reason(self) -> str: ...

    @property
    def after(self) -> Sequence[Action]:
        """Actions the flow runs right after (connect_call, transferCall)."""
        ...


class AIAgent(Protocol):
    """An AI, or an AI team, found for one action: it talks with the caller, or works headless."""

    async def talk(self, *, call: Call, variables: Variables, activeflow_id: str, max_duration_s: int = 0,
                   variable_values: dict[str, Any] | None = None) -> AIEnding: ...

    async def task(self, *, variables: Variables, activeflow_id: str) -> AIEnding: ...


class AICalls(Protocol):
    """The engine's AI calls (flowengine.ai.aicall.AICallService)."""

    async def agent(self, assistance_type: str, assistance_id: str, customer_id: str = "") -> AIAgent:
        """The AI (`assistance_type` "ai") or team ("team") of that id, for the customer."""
        ...

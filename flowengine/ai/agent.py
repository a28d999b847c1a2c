"""An AI, or an AI team, found for one action: what `ai_talk` and `ai_task` run (flowengine.flow.aiport.AIAgent)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowengine.ai.aicall import AICallService, LiveAICall
    from flowengine.ai.definitions import AIConfig
    from flowengine.ai.teams import TeamPlan
    from flowengine.asterisk.app import Call
    from flowengine.flow.variables import Variables


@dataclass(frozen=True)
class Agent:
    """`config` is the AI that answers first (a team's start member); `team` the team it belongs to."""

    service: AICallService
    config: AIConfig
    team: TeamPlan | None = None

    async def talk(self, *, call: Call, variables: Variables, activeflow_id: str, max_duration_s: int = 0,
                   variable_values: dict[str, Any] | None = None) -> LiveAICall:
        return await self.service.talk(call=call, config=self.config, variables=variables,
                                       activeflow_id=activeflow_id, max_duration_s=max_duration_s, team=self.team,
                                       variable_values=variable_values)

    async def task(self, *, variables: Variables, activeflow_id: str) -> LiveAICall:
        return await self.service.task(config=self.config, variables=variables, activeflow_id=activeflow_id)

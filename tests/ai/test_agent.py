"""AICallService.agent: what `ai_talk` and `ai_task` ask for through the flow's AI port (an AI, or a team)."""
from __future__ import annotations

import pytest

from flowengine.ai.aicall import AICallError, AICallService
from flowengine.ai.definitions import AIConfig
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.media import MediaSettings
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.store import Team, TeamMember
from tests.ai.tools.test_tool_calls import Source, ai

FRONT = AIConfig(ai("reception", 3, tool_names=["stop_service"]))
BILLING = AIConfig(ai("billing", 4, tool_names=["stop_service"]))
TEAM = Team(id="8a0e5c1e-0000-4000-8000-0000000002ab", customer_id=ENGINE_CUSTOMER_ID, name="front",
            start_member_id="m-billing", members=[TeamMember(id="m-reception", name="Reception", ai_id=FRONT.ai.id),
                                                  TeamMember(id="m-billing", name="Billing", ai_id=BILLING.ai.id)])


def service() -> AICallService:
    return AICallService(Source(FRONT, BILLING), ProviderPool(), None, MediaSettings(), teams=Source(TEAM))


async def test_an_ai_by_name_or_id() -> None:
    for key in ("reception", FRONT.ai.id):
        agent = await service().agent("ai", key)
        assert agent.config is FRONT and agent.team is None


async def test_a_team_talks_with_its_start_member_first() -> None:
    agent = await service().agent("team", "front")
    assert agent.config.ai.id == BILLING.ai.id
    assert agent.team is not None and agent.team.team.id == TEAM.id and agent.team.start.id == "m-billing"


async def test_unknown_ais_and_teams_are_refused_clearly() -> None:
    with pytest.raises(AICallError, match="AI 'nobody' not found"):
        await service().agent("ai", "nobody")
    with pytest.raises(AICallError, match="AI team 'nobody' not found"):
        await service().agent("team", "nobody")

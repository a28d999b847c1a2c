"""Whether what a placed call would run can run now: the AI (or each member of the team) found for the customer,
and each of its providers available with the AI's settings, asked of the provider catalogue before anything
is dialled, so a call that would fail once answered is refused instead."""
from __future__ import annotations

from dataclasses import dataclass

from flowengine.ai.agent import Agent
from flowengine.ai.definitions import AIConfig
from flowengine.providers.catalogue import LLM, STT, TTS, Availability


@dataclass(frozen=True)
class Unrunnable:
    """The first problem found: the AI field to blame (`engine_model`, `tts_voice_id`...) and why."""

    field: str
    message: str


def ai_problem(config: AIConfig) -> Unrunnable | None:
    """The first provider of `config` this engine cannot use now (its key included), or None."""
    ai = config.ai
    answers: tuple[tuple[Availability, str, dict[str, str]], ...] = (
        (LLM.check(ai.engine_model, api_key=config.engine_key.get_secret_value()), "engine_model", {}),
        (STT.check(ai.stt_type, language=ai.stt_language), "stt_type", {"language": "stt_language"}),
        (TTS.check(ai.tts_type, voice_id=ai.tts_voice_id), "tts_type", {"voice_id": "tts_voice_id"}),
    )
    for answer, name_field, settings in answers:
        if not answer.available:
            field, why = answer.blame(name_field, settings)
            return Unrunnable(field, answer.problem(name_field) if field == name_field else f"{field}: {why}")
    return None


def agent_problem(agent: Agent) -> Unrunnable | None:
    """The first problem of the agent's AI, or of any member's AI of its team (a switch would fail mid-call)."""
    if agent.team is None:
        found = ai_problem(agent.config)
        return Unrunnable(found.field, f"AI {_name(agent.config)}: {found.message}") if found else None
    for member in agent.team.team.members:
        config = agent.team.ais.get(member.id)
        if config is None:  # plan_team found every member's AI; kept safe for a plan made otherwise
            continue
        found = ai_problem(config)
        if found is not None:
            who = f"team member {member.name or member.id!r} (AI {_name(config)})"
            return Unrunnable(found.field, f"{who}: {found.message}")
    return None


def _name(config: AIConfig) -> str:
    return f"{config.ai.name!r} ({config.ai.id})" if config.ai.name else config.ai.id

"""A team on a live AI call: member transitions as model functions, switching prompt, model, voice and STT."""
from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from flowengine.ai.teams import TeamPlan
from flowengine.ai.tools.outcome import ToolOutcome, failed, ok
from flowengine.ai.tools.speech import say
from flowengine.providers.llm.base import ChatMessage, LLMProvider, ToolSpec
from flowengine.store import AIMessage
from flowengine.store.teams import TeamMember, TeamTransition

if TYPE_CHECKING:
    from flowengine.ai.definitions import AIConfig
    from flowengine.ai.tools.box import CallToolbox

log = logging.getLogger(__name__)


def member_parameter(plan: TeamPlan, config: AIConfig) -> dict[str, Any]:
    """The team's parameter overrides the member AI's parameter key by key (reference 4.2)."""
    return {**config.ai.parameter, **plan.team.parameter}


class TeamSession:
    def __init__(self, box: CallToolbox, plan: TeamPlan) -> None:
        self.box = box
        self.plan = plan
        self.member: TeamMember = plan.start
        self._llms: list[LLMProvider] = []  # created for later members: closed with the call
        self._prompt: str | None = None  # the new member's prompt, added once the tool results are in

    def _transition(self, name: str) -> TeamTransition | None:
        return next((t for t in self.member.transitions if t.function_name == name), None)

    def owns(self, name: str) -> bool:
        return self._transition(name) is not None

    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(t.function_name, t.description or f"Hand the caller over to "
                         f"{self.plan.members[t.next_member_id].name}.") for t in self.member.transitions]

    async def switch(self, name: str) -> ToolOutcome:
        transition = self._transition(name)
        live, service = self.box.live, self.box.service
        conversation = live.conversation
        if transition is None:
            return failed(f"{name} is not a transition of {self.member.name}")
        target = self.plan.members[transition.next_member_id]
        config = self.plan.ais[target.id]
        before, before_ai = self.member, self.box.config
        ai = config.ai
        parameter = live.variables.substitute(member_parameter(self.plan, config))
        llm = service.pool.llm(ai.engine_model, config.engine_key.get_secret_value(), parameter)
        self._llms.append(llm)
        message = self.plan.message(name)
        if message and conversation is not None:
            await say(conversation, message, wait=True)  # said by the member handing over
            # into the transcript (the caller heard it), not into the model's context: there nothing may
            # come between a tool call and its result
            await service._store_message(live, ChatMessage("assistant", message), {"direction": "outgoing"})
        if conversation is not None:  # between turns: the next sentence uses the new providers
            conversation.llm = llm
            conversation.tts = service.pool.tts(ai.tts_type)
            conversation.stt = service.pool.stt(ai.stt_type)
            conversation.settings.voice_id = ai.tts_voice_id
            conversation.settings.language = ai.stt_language
        elif live.text is not None:
            live.text.llm = llm
        self.member = target
        self.box.use(config)
        if conversation is not None:
            conversation.tools = self.box.specs()
        elif live.text is not None:
            live.text.tools = self.box.specs()
        self._prompt = live.variables.substitute(ai.init_prompt) or f"You are {target.name}."
        changes: dict[str, Any] = {"current_member_id": target.id, "ai_engine_model": ai.engine_model, "ai_tts_type": ai.tts_type,
                   "ai_tts_voice_id": ai.tts_voice_id, "ai_stt_type": ai.stt_type}
        live.record = live.record.model_copy(update=changes)
        if service.store is not None:
            live.record = await service.store.aicalls.update(live.record.customer_id, live.record.id, **changes)
        notice = {"type": "member_switched", "transition_function_name": name,
                  "from_member": _member(before, before_ai), "to_member": _member(target, config)}
        await self._notify(notice)
        log.info("aicall %s: team member %s -> %s", live.record.id, before.name, target.name)
        return ok(f"the caller is now with {target.name}")

    async def _notify(self, notice: dict[str, Any]) -> None:
        live, service = self.box.live, self.box.service
        record = AIMessage(id=str(uuid.uuid4()), customer_id=live.record.customer_id, aicall_id=live.record.id,
                           activeflow_id=live.record.activeflow_id, active_ai_id=self.box.config.ai.id,
                           direction="incoming", role="notification", content=json.dumps(notice))
        if service.store is not None:
            record = await service.store.aimessages.create(record)
        service.messages.setdefault(live.record.id, []).append(record)
        service.events.message(live.record, record)
        service.events.member_switched(live.record, notice)

    async def flush_prompt(self) -> None:
        """Adds the new member's prompt after the transition's tool result (tool results must follow their call)."""
        prompt, self._prompt = self._prompt, None
        live = self.box.live
        if prompt is None:
            return
        message = ChatMessage("system", prompt)
        target = live.conversation.messages if live.conversation is not None else (
            live.text.messages if live.text is not None else None)
        if target is not None:
            target.append(message)
        await self.box.service._store_message(live, message, {})

    async def aclose(self) -> None:
        for llm in self._llms:
            await llm.aclose()


def _member(member: TeamMember, config: AIConfig) -> dict[str, Any]:
    ai = config.ai
    return {"id": member.id, "name": member.name, "ai": {"engine_model": ai.engine_model, "tts_type": ai.tts_type,
                                                          "tts_voice_id": ai.tts_voice_id, "stt_type": ai.stt_type}}

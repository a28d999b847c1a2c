"""Text-only AI calls through the real openai client and a local OpenAI-compatible server: ai_task, conversations."""
from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr

from flowengine.ai import talk  # noqa: F401  (registers ai_task)
from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIConfig
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.media import MediaSettings
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.context import Services
from flowengine.flow.model import Flow
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.flow.service import FlowService
from flowengine.flow.variables import Variables
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import LLMProvider
from flowengine.store import AI, AIcall
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.support import Flows


class LLMPool(ProviderPool):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def llm(self, engine_model: str, api_key: str, parameter: dict[str, Any]) -> LLMProvider:
        return create_llm(engine_model, api_key, parameter, base_url=self.base_url)


class AIs:
    def __init__(self) -> None:
        self.config = AIConfig(AI(id="9b1f0000-0000-4000-8000-000000000002", customer_id=ENGINE_CUSTOMER_ID,
                                  name="tasker", engine_model="openai.gpt-test", init_prompt="Classify ${topic}.",
                                  tool_names=["set_variables", "stop_service"]), SecretStr("sk-123"))

    def get(self, ai_id: str) -> AIConfig | None:
        return self.config if ai_id in ("tasker", self.config.ai.id) else None




async def test_ai_task_acts_through_tools_then_the_flow_goes_on() -> None:
    async with FakeOpenAIServer() as server:
        server.script(Reply(tool_calls=(("set_variables", '{"variables": {"category": "billing"}}'),)),
                      Reply(tool_calls=(("stop_service", "{}"),)))
        service = AICallService(AIs(), LLMPool(server.base_url), None, MediaSettings())
        events: list[str] = []

        async def observe(event: str, record: AIcall) -> None:
            events.append(event)

        service.observers.append(observe)
        flow = Flow.model_validate({"id": "f", "name": "f", "actions": [
            {"id": "t", "type": "ai_task", "option": {"assistance_id": "tasker"}},
            {"id": "after", "type": "variable_set", "option": {"key": "after", "value": "${category}"}}]})
        flows = FlowService(Services(flows=Flows(flow), ai=service))
        runner = flows.create(flow, reference_type=ReferenceType.API, external={"topic": "an invoice question"})
        af = await asyncio.wait_for(flows.run(runner), 20)
    assert af.ended_reason == "finished" and af.variables["after"] == "billing"
    first = server.requests[0].body["messages"]
    assert first[0]["content"].startswith("You are a headless workflow executor")
    assert first[1]["content"] == "Classify an invoice question."  # init_prompt substituted
    record = service.recent[-1].record
    assert record.reference_type == "task" and record.status == "terminated"
    assert record.ended_reason == "assistant-ended-call"
    assert [e for e in events if e.startswith("aicall_status")] == ["aicall_status_initializing",
                                                                    "aicall_status_terminated"]


async def test_text_conversation_answers_messages_until_it_ends() -> None:
    async with FakeOpenAIServer() as server:
        server.script(Reply(text="Our hours are 8 to 6."), Reply(text="Bye!", tool_calls=(("stop_service", "{}"),)))
        service = AICallService(AIs(), LLMPool(server.base_url), None, MediaSettings())
        live = await service.start_conversation(config=service.resolve("ai", "tasker"),
                                                variables=Variables({"topic": "hours"}), reference_id="chat-1")
        assert live.record.status == "progressing" and live.record.reference_type == "conversation"
        assert await service.send(live.record.id, "When are you open?") == "Our hours are 8 to 6."
        assert await service.send(live.record.id, "Thanks, bye") == "Bye!"
    assert live.record.status == "terminated" and not service.live
    roles = [m.role for m in service.messages[live.record.id]]
    assert roles[-5:] == ["user", "assistant", "user", "assistant", "tool"]

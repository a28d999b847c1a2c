"""Anthropic's Messages API through the real `anthropic` client against the local fake: the messages mapping and
the request's shape, Anthropic's 529, the key from the environment, then the LLM contract."""
from __future__ import annotations

from typing import Any

import pytest

from flowengine.bench.fakes.anthropic_llm import FakeAnthropicLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.bench.fakes.server import Faults
from flowengine.providers.catalogue import LLM, Status
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.anthropic import to_anthropic
from flowengine.providers.llm.base import ChatMessage, LLMError, LLMProvider, TextDelta, ToolCall
from tests.providers.llm.contract import TOOLS, LLMContract, collect, text_of

KEY = "sk-ant-test-0123456789abcdef"


def test_messages_map_to_system_alternating_turns_and_tool_blocks() -> None:
    call = ToolCall("toolu_1", "set_variables", '{"variables": {"day": "tuesday"}}')
    history = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi."), ChatMessage("system", "Say hello."),
               ChatMessage("user", "Tuesday please."), ChatMessage("assistant", "Noting it.", tool_calls=(
                   call, ToolCall("toolu_2", "stop_service", ""))),
               ChatMessage("tool", '{"result": "ok"}', tool_call_id="toolu_1"),
               ChatMessage("tool", "done", tool_call_id="toolu_2"), ChatMessage("assistant", ""),
               ChatMessage("assistant", "Booked.")]
    system, turns = to_anthropic(history)
    assert system == "Be brief.\n\nSay hello."
    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "Hi."}, {"type": "text", "text": "Tuesday please."}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Noting it."},
            {"type": "tool_use", "id": "toolu_1", "name": "set_variables", "input": {"variables": {"day": "tuesday"}}},
            {"type": "tool_use", "id": "toolu_2", "name": "stop_service", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"result": "ok"}'},
                                     {"type": "tool_result", "tool_use_id": "toolu_2", "content": "done"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Booked."}]}]
    # arguments that are not a JSON object are carried, not dropped (input must be an object)
    assert ToolCall("t", "f", "[1]").input() == {"value": [1]} and ToolCall("t", "f", "oops").input() == {
        "arguments": "oops"}


class TestAnthropicLLM(LLMContract):
    model = "anthropic.claude-sonnet-4-5"
    key_environment = "ANTHROPIC_API_KEY"
    tool_ids = ("toolu_fake1", "toolu_fake2")
    refused_key_error = r"anthropic refused the API key \(HTTP 401\): invalid x-api-key.*engine_key"
    persistent_status = 529  # Anthropic's "overloaded"
    persistent_error = r"anthropic model 'claude-sonnet-4-5': HTTP 529: injected fault"
    mid_stream_reply = Reply(text="Let me check", error="overloaded_error")
    mid_stream_error = "error event mid-stream: Overloaded"
    garbage_error = "not the Messages protocol"
    dropped_error = r"anthropic model 'claude-sonnet-4-5': Connection to .* failed: peer closed"
    timeout_error = r"no answer within 0.3 s"

    def new_fake(self) -> FakeAnthropicLLM:
        return FakeAnthropicLLM(api_key=KEY)

    def make(self, fake: Any, key: str = "", **parameter: Any) -> LLMProvider:
        return create_llm(self.model, api_key=key or KEY, base_url=fake.base_url, parameter=parameter)

    def assert_tool_exchange_sent(self, body: Any, call: ToolCall) -> None:
        assert body["messages"][1:] == [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake0", "name": "stop_service",
                                               "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake0",
                                          "content": "stopped"}]}]

    async def test_the_request_is_the_documented_messages_call(self, fake: FakeAnthropicLLM) -> None:
        await collect(self.make(fake), temperature=0.2)  # not sent: see AnthropicLLM.stream
        sent = fake.requests[0]
        # anthropic 2.17 sends the key as a bearer token and its own dated version (providers.md: x-api-key, 2023-06-01)
        assert sent.headers["Authorization"] == f"Bearer {KEY}" and sent.headers["anthropic-version"] == "2026-10-21"
        assert sent.body["system"] == "You book dental appointments."
        assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text",
                                                                        "text": "Hi, I need a cleaning."}]}]
        assert sent.body["max_tokens"] == 1024 and "temperature" not in sent.body and sent.body["stream"] is True

    async def test_tools_and_max_tokens_in_the_request(self, fake: FakeAnthropicLLM) -> None:
        await collect(self.make(fake), tools=TOOLS, max_tokens=200)
        body = fake.requests[0].body
        assert body["max_tokens"] == 200
        assert body["tools"] == [{"name": "set_variables", "description": "Store variables",
                                  "input_schema": TOOLS[0].parameters},
                                 {"name": "stop_service", "input_schema": {"type": "object", "properties": {}}}]

    async def test_overloaded_once_is_retried(self, fake: FakeAnthropicLLM) -> None:
        fake.faults = Faults(status=529, status_times=1)
        fake.script(Reply(text="Hello again."))
        assert text_of(await collect(self.make(fake))) == "Hello again."
        assert len(fake.requests) == 2

    async def test_a_timeout_without_retries_says_how_long_it_waited(self, fake: FakeAnthropicLLM) -> None:
        fake.faults = Faults(latency_s=2.0)
        with pytest.raises(LLMError, match=r"no answer within 0.3 s"):
            await collect(self.make(fake, timeout_s=0.3, max_retries=0))
        assert len(fake.requests) == 1

    def test_the_key_from_the_environment_and_what_is_not_an_llm(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        assert LLM.check(self.model).available
        dialogflow = LLM.check("dialogflow.x")
        assert dialogflow.status is Status.NOT_IN_ENGINE and "intent engine" in dialogflow.reason

    async def test_key_and_base_url_from_the_environment(self, monkeypatch: pytest.MonkeyPatch,
                                                         fake: FakeAnthropicLLM) -> None:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("FLOWENGINE_LLM_ANTHROPIC_BASE_URL", fake.base_url)
        llm = create_llm("anthropic.claude-haiku-4-5")
        assert KEY not in repr(llm)
        assert (await collect(llm))[0] == TextDelta("Hell")
        assert fake.requests[0].body["model"] == "claude-haiku-4-5"

    async def test_events_of_the_wrong_shape_are_an_error_not_a_crash(self, fake: FakeAnthropicLLM,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        from flowengine.bench.fakes import anthropic_llm

        def shapeless(model: str, reply: Reply, *, garbage: bool = False) -> list[tuple[str, dict[str, object]]]:
            return [("message_start", {"message": "not an object"}), ("message_stop", {})]

        monkeypatch.setattr(anthropic_llm, "_events", shapeless)
        with pytest.raises(LLMError, match="not the Messages protocol: AttributeError"):
            await collect(self.make(fake))



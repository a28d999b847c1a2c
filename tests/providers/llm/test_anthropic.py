"""Anthropic's Messages API through the real `anthropic` client against the local fake."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from flowengine.bench.fakes.anthropic_llm import FakeAnthropicLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.bench.fakes.server import Faults
from flowengine.providers.catalogue import LLM, Status
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.anthropic import to_anthropic
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMError,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from tests.support import eventually

KEY = "sk-ant-test-0123456789abcdef"
MESSAGES = [ChatMessage("system", "You book dental appointments."), ChatMessage("user", "Hi, I need a cleaning.")]
TOOLS = [ToolSpec("set_variables", "Store variables", {"type": "object", "properties": {"variables": {"type": "object"}}}),
         ToolSpec("stop_service")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropicLLM]:
    async with FakeAnthropicLLM(api_key=KEY) as f:
        yield f


def make(fake: FakeAnthropicLLM, key: str = KEY, **parameter: object) -> LLMProvider:
    return create_llm("anthropic.claude-sonnet-4-5", api_key=key, base_url=fake.base_url, parameter=parameter)


async def collect(llm: LLMProvider, messages: list[ChatMessage] = MESSAGES, **kwargs: object) -> list[LLMEvent]:
    try:
        return [e async for e in llm.stream(messages, **kwargs)]  # type: ignore[arg-type]
    finally:
        await llm.aclose()


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


async def test_streams_text_deltas_before_the_end_then_usage(fake: FakeAnthropicLLM) -> None:
    fake.script(Reply(text="Sure, which day suits you?", usage=(25, 9)))
    fake.faults = Faults(chunk_delay_s=0.05)
    llm = make(fake)
    try:
        stream = llm.stream(MESSAGES, temperature=0.2)  # not sent: see AnthropicLLM.stream
        first = await anext(stream)
        # the first delta is ours while the server is still writing the rest
        assert first == TextDelta("Sure") and not fake.requests[0].closed_at
        rest = [e async for e in stream]
    finally:
        await llm.aclose()
    assert "".join(e.text for e in [first, *rest] if isinstance(e, TextDelta)) == "Sure, which day suits you?"
    assert rest[-1] == Usage(25, 9)
    sent = fake.requests[0]
    # anthropic 2.17 sends the key as a bearer token and its own dated version (providers.md: x-api-key, 2023-06-01)
    assert sent.headers["Authorization"] == f"Bearer {KEY}" and sent.headers["anthropic-version"] == "2026-10-21"
    assert sent.body["system"] == "You book dental appointments."
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi, I need a cleaning."}]}]
    assert sent.body["max_tokens"] == 1024 and "temperature" not in sent.body and sent.body["stream"] is True


async def test_tool_calls_are_assembled_from_input_json_deltas(fake: FakeAnthropicLLM) -> None:
    args = json.dumps({"variables": {"appointment_day": "tuesday", "appointment_time": "10 am"}})
    fake.script(Reply(text="Booked.", tool_calls=(("set_variables", args), ("stop_service", "")), chunk_chars=5))
    events = await collect(make(fake), tools=TOOLS, max_tokens=200)
    calls = [e.call for e in events if isinstance(e, ToolCallRequest)]
    assert calls == [ToolCall("toolu_fake1", "set_variables", args), ToolCall("toolu_fake2", "stop_service", "{}")]
    assert [type(e).__name__ for e in events][-3:] == ["ToolCallRequest", "ToolCallRequest", "Usage"]
    body = fake.requests[0].body
    assert body["max_tokens"] == 200
    assert body["tools"] == [{"name": "set_variables", "description": "Store variables",
                              "input_schema": TOOLS[0].parameters},
                             {"name": "stop_service", "input_schema": {"type": "object", "properties": {}}}]


async def test_tool_use_round_trip_is_accepted(fake: FakeAnthropicLLM) -> None:
    fake.script(Reply(tool_calls=(("stop_service", "{}"),)), Reply(text="Goodbye."))
    first = await collect(make(fake), tools=TOOLS)
    call = next(e.call for e in first if isinstance(e, ToolCallRequest))
    history = [*MESSAGES, ChatMessage("assistant", "", tool_calls=(call,)),
               ChatMessage("tool", "stopped", tool_call_id=call.id)]
    second = await collect(make(fake), history, tools=TOOLS)
    assert second[0] == TextDelta("Good")
    assert fake.requests[1].body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake0", "name": "stop_service",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake0", "content": "stopped"}]}]


async def test_bad_key_is_refused_at_once_without_the_key(fake: FakeAnthropicLLM) -> None:
    wrong = "sk-ant-wrong-9876543210"
    with pytest.raises(LLMError) as info:
        await collect(make(fake, key=wrong))
    text = str(info.value)
    assert "anthropic refused the API key (HTTP 401): invalid x-api-key" in text and "engine_key" in text
    assert wrong not in text and info.value.__cause__ is None
    assert len(fake.requests) == 1  # never retried


@pytest.mark.parametrize("status", [529, 500, 429])
async def test_overloaded_or_throttled_once_is_retried(fake: FakeAnthropicLLM, status: int) -> None:
    fake.faults = Faults(status=status, status_times=1)
    fake.script(Reply(text="Hello again."))
    events = await collect(make(fake))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello again."
    assert len(fake.requests) == 2


async def test_persistent_overload_is_an_error_after_the_bounded_retries(fake: FakeAnthropicLLM) -> None:
    fake.faults = Faults(status=529)
    with pytest.raises(LLMError, match=r"anthropic model 'claude-sonnet-4-5': HTTP 529: injected fault"):
        await collect(make(fake, max_retries=1))
    assert len(fake.requests) == 2


async def test_error_event_mid_stream(fake: FakeAnthropicLLM) -> None:
    fake.script(Reply(text="Let me check", error="overloaded_error"))
    llm = make(fake)
    try:
        stream = llm.stream(MESSAGES)
        assert await anext(stream) == TextDelta("Let ")  # the text before the error was delivered
        with pytest.raises(LLMError, match="error event mid-stream: Overloaded"):
            _ = [e async for e in stream]
    finally:
        await llm.aclose()


async def test_garbage_and_a_dropped_stream_are_errors(fake: FakeAnthropicLLM) -> None:
    fake.faults = Faults(garbage=True)
    with pytest.raises(LLMError, match="not the Messages protocol"):
        await collect(make(fake))
    fake.faults = Faults(drop_after=3)
    fake.script(Reply(text="A long answer cut short"))
    with pytest.raises(LLMError, match=r"anthropic model 'claude-sonnet-4-5': Connection to .* failed: peer closed"):
        await collect(make(fake, max_retries=0))


async def test_timeout(fake: FakeAnthropicLLM) -> None:
    fake.faults = Faults(latency_s=2.0)
    with pytest.raises(LLMError, match=r"no answer within 0.3 s"):
        await collect(make(fake, timeout_s=0.3, max_retries=0))


async def test_stopping_early_closes_the_request(fake: FakeAnthropicLLM) -> None:
    fake.faults = Faults(chunk_delay_s=0.05)
    fake.script(Reply(text="A long answer that the caller interrupts half way through, at length."))
    llm = make(fake)
    try:
        stream = llm.stream(MESSAGES)
        assert isinstance(await anext(stream), TextDelta)
        await stream.aclose()  # type: ignore[attr-defined]
        await eventually(lambda: fake.requests[0].closed_by_client, timeout=3, what="the fake sees the client go")
    finally:
        await llm.aclose()


def test_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert LLM.check("anthropic.claude-sonnet-4-5", api_key=KEY).available
    answer = LLM.check("anthropic.claude-sonnet-4-5")
    assert answer.status is Status.NEEDS_SETUP and "ANTHROPIC_API_KEY" in answer.reason
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert LLM.check("anthropic.claude-sonnet-4-5").available
    dialogflow = LLM.check("dialogflow.x")
    assert dialogflow.status is Status.NOT_IN_ENGINE and "intent engine" in dialogflow.reason


async def test_key_and_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeAnthropicLLM) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("FLOWENGINE_LLM_ANTHROPIC_BASE_URL", fake.base_url)
    llm = create_llm("anthropic.claude-haiku-4-5")
    assert KEY not in repr(llm)
    assert (await collect(llm))[0] == TextDelta("Hell")
    assert fake.requests[0].body["model"] == "claude-haiku-4-5"


async def test_events_of_the_wrong_shape_are_an_error_not_a_crash(fake: FakeAnthropicLLM,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine.bench.fakes import anthropic_llm

    def shapeless(model: str, reply: Reply, *, garbage: bool = False) -> list[tuple[str, dict[str, object]]]:
        return [("message_start", {"message": "not an object"}), ("message_stop", {})]

    monkeypatch.setattr(anthropic_llm, "_events", shapeless)
    with pytest.raises(LLMError, match="not the Messages protocol: AttributeError"):
        await collect(make(fake))

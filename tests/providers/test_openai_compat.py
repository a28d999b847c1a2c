"""The OpenAI-compatible LLM driven through the real `openai` client against a local server."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from flowengine.providers.llm import LLM_PROVIDERS, create_llm
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMConfigError,
    LLMError,
    LLMEvent,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.llm.endpoints import ENDPOINTS
from tests.fakes.openai_server import FakeOpenAIServer, Reply

KEY = "sk-test-0123456789abcdef"
MESSAGES = [ChatMessage("system", "You book dental appointments."), ChatMessage("user", "Hi, I need a cleaning.")]
TOOLS = [
    ToolSpec("set_variables", "Store variables", {"type": "object", "properties": {"variables": {"type": "object"}}}),
    ToolSpec("stop_service", "End the AI"),
]


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as s:
        yield s


async def collect(llm: LLMProvider, **kwargs: object) -> list[LLMEvent]:
    try:
        return [e async for e in llm.stream(MESSAGES, **kwargs)]  # type: ignore[arg-type]
    finally:
        await llm.aclose()


def make(server: FakeOpenAIServer, **parameter: object) -> LLMProvider:
    return create_llm("openai.gpt-test", api_key=KEY, base_url=server.base_url, parameter=parameter)


async def test_streams_text_deltas_then_usage(server: FakeOpenAIServer) -> None:
    server.script(Reply(text="Sure, which day suits you?"))
    events = await collect(make(server), temperature=0.2, max_tokens=50)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3  # arrived in pieces, not as one block
    assert "".join(d.text for d in deltas) == "Sure, which day suits you?"
    assert events[-1] == Usage(11, 7)
    sent = server.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-test" and sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [{"role": "system", "content": "You book dental appointments."},
                                     {"role": "user", "content": "Hi, I need a cleaning."}]
    assert sent.body["temperature"] == 0.2 and sent.body["max_completion_tokens"] == 50
    assert "tools" not in sent.body


async def test_assembles_two_tool_calls_split_across_chunks(server: FakeOpenAIServer) -> None:
    args = json.dumps({"variables": {"appointment_day": "tuesday", "appointment_time": "10 am"}})
    server.script(Reply(text="Booked.", tool_calls=(("set_variables", args), ("stop_service", "{}")), chunk_chars=5))
    events = await collect(make(server), tools=TOOLS)
    calls = [e.call for e in events if isinstance(e, ToolCallRequest)]
    assert calls == [ToolCall("call_0_fake", "set_variables", args), ToolCall("call_1_fake", "stop_service", "{}")]
    # text first, then the tool calls, then usage
    kinds = [type(e).__name__ for e in events]
    assert kinds[-3:] == ["ToolCallRequest", "ToolCallRequest", "Usage"] and kinds[0] == "TextDelta"
    sent_tools = server.requests[0].body["tools"]
    assert [t["function"]["name"] for t in sent_tools] == ["set_variables", "stop_service"]
    assert sent_tools[0] == {"type": "function", "function": {
        "name": "set_variables", "description": "Store variables", "parameters": TOOLS[0].parameters}}


async def test_history_with_tool_calls_is_sent_in_openai_shape(server: FakeOpenAIServer) -> None:
    server.script(Reply(text="Done."))
    call = ToolCall("call_9", "set_variables", '{"variables": {}}')
    history = [*MESSAGES, ChatMessage("assistant", "", tool_calls=(call,)),
               ChatMessage("tool", '{"result": "success"}', tool_call_id="call_9")]
    llm = make(server)
    try:
        _ = [e async for e in llm.stream(history)]
    finally:
        await llm.aclose()
    sent = server.requests[0].body["messages"]
    assert sent[2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "set_variables", "arguments": '{"variables": {}}'}}]}
    assert sent[3] == {"role": "tool", "content": '{"result": "success"}', "tool_call_id": "call_9"}


async def test_non_streaming_yields_the_same_events(server: FakeOpenAIServer) -> None:
    server.script(Reply(text="Goodbye!", tool_calls=(("stop_service", "{}"),), usage=(20, 3)))
    events = await collect(make(server, stream=False), tools=TOOLS)
    assert events == [TextDelta("Goodbye!"), ToolCallRequest(ToolCall("call_0_fake", "stop_service", "{}")),
                      Usage(20, 3)]
    assert server.requests[0].body["stream"] is False


async def test_server_error_is_retried(server: FakeOpenAIServer) -> None:
    server.script(Reply(status=500, error="overloaded"), Reply(text="Hello again."))
    events = await collect(make(server))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello again."
    assert len(server.requests) == 2


async def test_persistent_errors_surface_as_llm_error(server: FakeOpenAIServer) -> None:
    server.script(*[Reply(status=503, error="down")] * 3)
    with pytest.raises(LLMError, match=r"openai model 'gpt-test': HTTP 503: down"):
        await collect(make(server))
    assert len(server.requests) == 3  # the first try and the client's 2 retries


async def test_unauthorised_names_the_model_but_never_the_key(server: FakeOpenAIServer) -> None:
    # Real servers echo (part of) the key in the 401 text.
    server.script(Reply(status=401, error=f"Incorrect API key provided: {KEY[:8]}****{KEY[-4:]} ({KEY})"))
    with pytest.raises(LLMError) as info:
        await collect(make(server))
    text = str(info.value)
    assert "openai" in text and "gpt-test" in text and "401" in text and "engine_key" in text
    assert KEY not in text and KEY[:8] not in text and KEY[-6:] not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(server.requests) == 1  # 401 is not retried


async def test_timeout(server: FakeOpenAIServer) -> None:
    server.script(Reply(text="late", delay_s=2.0))
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"no answer within 0.3 s"):
        await collect(make(server, timeout_s=0.3, max_retries=0))
    assert time.monotonic() - started < 1.5


async def test_stopping_early_closes_the_stream(server: FakeOpenAIServer) -> None:
    server.script(Reply(text="A long answer that the caller interrupts half way through."), Reply(text="Next."))
    llm = make(server)
    try:
        stream = llm.stream(MESSAGES)
        first = await anext(stream)
        assert isinstance(first, TextDelta)
        await stream.aclose()  # type: ignore[attr-defined]
        events = [e async for e in llm.stream(MESSAGES)]  # the client is still usable
        assert events[0] == TextDelta("Next")
    finally:
        await llm.aclose()


def test_every_openai_compatible_seed_provider_is_registered() -> None:
    seed = {"cerebras", "deepseek", "fireworks", "gemini", "grok", "groq", "mistral", "nvidia", "ollama",
            "openai", "openrouter", "perplexity", "qwen", "sambanova", "together"}
    assert seed <= set(ENDPOINTS) and seed <= set(LLM_PROVIDERS.names())
    assert ENDPOINTS["grok"].base_url == "https://api.x.ai/v1"
    assert ENDPOINTS["ollama"].base_url == "http://127.0.0.1:11434/v1"
    assert ENDPOINTS["gemini"].base_url == "https://generativelanguage.googleapis.com/v1beta/openai/"


@pytest.mark.parametrize("provider", ["anthropic", "aws", "azure"])
def test_providers_with_their_own_protocol_are_not_openai_compat(provider: str) -> None:
    assert provider not in ENDPOINTS and provider in LLM_PROVIDERS
    with pytest.raises(LLMConfigError, match="not supported here: it is an intent engine"):
        create_llm("dialogflow.some-agent", api_key=KEY)


def test_missing_key_names_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    with pytest.raises(LLMConfigError, match="engine_key or the environment variable GROQ_API_KEY"):
        create_llm("groq.llama-3.3-70b-versatile")


async def test_key_and_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                     server: FakeOpenAIServer) -> None:
    monkeypatch.setenv("GROK_API_KEY", KEY)
    monkeypatch.setenv("FLOWENGINE_LLM_GROK_BASE_URL", server.base_url)
    server.script(Reply(text="Hi."))
    llm = create_llm("grok.grok-3-mini")
    assert KEY not in repr(llm)
    try:
        _ = [e async for e in llm.stream(MESSAGES)]
    finally:
        await llm.aclose()
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert server.requests[0].body["model"] == "grok-3-mini"


async def test_ollama_needs_no_key(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    server.script(Reply(text="Local."))
    llm = create_llm("ollama.llama3.2:1b", base_url=server.base_url)
    events = await collect(llm, max_tokens=20)
    assert events[0] == TextDelta("Loca")
    assert server.requests[0].body["model"] == "llama3.2:1b" and server.requests[0].body["max_tokens"] == 20


def test_bad_parameter_is_a_config_error() -> None:
    with pytest.raises(LLMConfigError, match="stream must be true or false, got 'sometimes'; "
                                             "timeout_s must be a non-negative float, got 'soon'"):
        create_llm("openai.gpt-4o", api_key=KEY, parameter={"stream": "sometimes", "timeout_s": "soon"})
    with pytest.raises(LLMConfigError, match="no model"):
        create_llm("openai. ", api_key=KEY)

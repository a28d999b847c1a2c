"""Azure OpenAI through the openai package's AsyncAzureOpenAI against the local fake."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from flowengine.bench.fakes.azure_llm import FakeAzureLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.bench.fakes.server import Faults
from flowengine.providers.catalogue import LLM, Status
from flowengine.providers.llm import create_llm
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

KEY = "azure-test-key-0123456789abcdef"
MESSAGES = [ChatMessage("system", "You book dental appointments."), ChatMessage("user", "Hi, I need a cleaning.")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAzureLLM]:
    async with FakeAzureLLM(api_key=KEY) as f:
        yield f


def make(fake: FakeAzureLLM, key: str = KEY, **parameter: object) -> LLMProvider:
    return create_llm("azure.gpt-4o-frontdesk", api_key=key, parameter={"endpoint": fake.base_url, **parameter})


async def collect(llm: LLMProvider, messages: list[ChatMessage] = MESSAGES, **kwargs: object) -> list[LLMEvent]:
    try:
        return [e async for e in llm.stream(messages, **kwargs)]  # type: ignore[arg-type]
    finally:
        await llm.aclose()


async def test_streams_through_the_deployment_url_despite_the_empty_first_chunk(fake: FakeAzureLLM) -> None:
    fake.script(Reply(text="Sure, which day suits you?", usage=(30, 8)))
    fake.faults = Faults(chunk_delay_s=0.03)
    llm = make(fake)
    try:
        stream = llm.stream(MESSAGES, max_tokens=60)
        first = await anext(stream)
        assert first == TextDelta("Sure") and not fake.requests[0].closed_at  # before the end of the answer
        rest = [e async for e in stream]
    finally:
        await llm.aclose()
    assert "".join(e.text for e in [first, *rest] if isinstance(e, TextDelta)) == "Sure, which day suits you?"
    assert rest[-1] == Usage(30, 8)
    sent = fake.requests[0]
    assert sent.path == "/openai/deployments/gpt-4o-frontdesk/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"} and sent.headers["api-key"] == KEY
    assert "Authorization" not in sent.headers
    assert sent.body["messages"][0] == {"role": "system", "content": "You book dental appointments."}
    assert sent.body["max_tokens"] == 60 and sent.body["stream"] is True


async def test_tool_calls_and_the_api_version_parameter(fake: FakeAzureLLM) -> None:
    args = json.dumps({"variables": {"appointment_day": "tuesday"}})
    fake.script(Reply(text="Booked.", tool_calls=(("set_variables", args),), chunk_chars=3))
    events = await collect(make(fake, api_version="2025-01-01-preview"), tools=[ToolSpec("set_variables")])
    assert [e.call for e in events if isinstance(e, ToolCallRequest)] == [ToolCall("call_0_fake", "set_variables", args)]
    assert fake.requests[0].query["api-version"] == "2025-01-01-preview"


async def test_content_filter_finish_is_an_error(fake: FakeAzureLLM) -> None:
    fake.script(Reply(text="Well", error="content_filter"))
    with pytest.raises(LLMError, match="azure model 'gpt-4o-frontdesk': the provider's content filter stopped"):
        await collect(make(fake))


async def test_bad_key_is_refused_at_once(fake: FakeAzureLLM) -> None:
    with pytest.raises(LLMError, match=r"HTTP 401: Access denied due to invalid subscription key.*engine_key"):
        await collect(make(fake, key="wrong-key-123456789"))
    assert len(fake.requests) == 1


async def test_5xx_once_is_retried_then_succeeds(fake: FakeAzureLLM) -> None:
    fake.faults = Faults(status=503, status_times=1)
    events = await collect(make(fake))
    assert events[0] == TextDelta("Hell") and len(fake.requests) == 2


async def test_garbage_and_a_dropped_stream_are_errors(fake: FakeAzureLLM) -> None:
    fake.faults = Faults(garbage=True)
    with pytest.raises(LLMError, match="azure model 'gpt-4o-frontdesk': an answer that is not the chat completions"):
        await collect(make(fake))
    fake.faults = Faults(drop_after=3)
    fake.script(Reply(text="A long answer cut short"))
    with pytest.raises(LLMError, match=r"azure model 'gpt-4o-frontdesk': .*peer closed connection"):
        await collect(make(fake, max_retries=0))


async def test_stopping_early_closes_the_request(fake: FakeAzureLLM) -> None:
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


def test_catalogue_needs_a_key_and_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert "AZURE_OPENAI_API_KEY" in LLM.check("azure.gpt-4o", parameter={"endpoint": "https://r.openai.azure.com"}).reason
    no_endpoint = LLM.check("azure.gpt-4o", api_key=KEY)
    assert no_endpoint.status is Status.NEEDS_SETUP and "AZURE_OPENAI_ENDPOINT" in no_endpoint.reason
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com")
    assert LLM.check("azure.gpt-4o", api_key=KEY).available
    assert LLM.check("azure-openai.gpt-4o", api_key=KEY).provider == "azure"  # Vapi's spelling


async def test_key_and_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeAzureLLM) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.base_url)
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    llm = create_llm("azure.support-bot")
    assert KEY not in repr(llm)
    assert (await collect(llm))[0] == TextDelta("Hell")
    assert fake.requests[0].path == "/openai/deployments/support-bot/chat/completions"
    assert fake.requests[0].query["api-version"] == "2024-06-01"

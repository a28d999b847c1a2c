"""AWS Bedrock ConverseStream over aiohttp against the local fake (event-stream framing, SigV4 or an API key)."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from flowengine.bench.fakes.bedrock_llm import FakeBedrockLLM
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
from flowengine.providers.llm.bedrock import OPENING, to_converse
from tests.support import eventually

API_KEY = "bedrock-api-key-0123456789abcdef"
ACCESS, SECRET = "AKIDTESTBEDROCK", "secret/TESTbedrock+0123456789"
MODEL = "aws.anthropic.claude-3-5-haiku-20241022-v1:0"
MESSAGES = [ChatMessage("system", "You book dental appointments."), ChatMessage("user", "Hi, I need a cleaning.")]
ENV = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
       "AWS_DEFAULT_REGION", "FLOWENGINE_LLM_AWS_BASE_URL")


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrockLLM]:
    async with FakeBedrockLLM(api_key=API_KEY, access_key=ACCESS, secret_key=SECRET, region="eu-west-3") as f:
        yield f


def make(fake: FakeBedrockLLM, key: str = API_KEY, **parameter: object) -> LLMProvider:
    return create_llm(MODEL, api_key=key, base_url=fake.base_url, parameter={"region": "eu-west-3", **parameter})


def signed(fake: FakeBedrockLLM, monkeypatch: pytest.MonkeyPatch, secret: str = SECRET) -> LLMProvider:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    return create_llm(MODEL, base_url=fake.base_url)


async def collect(llm: LLMProvider, messages: list[ChatMessage] = MESSAGES, **kwargs: object) -> list[LLMEvent]:
    try:
        return [e async for e in llm.stream(messages, **kwargs)]  # type: ignore[arg-type]
    finally:
        await llm.aclose()


def test_messages_map_to_converse() -> None:
    call = ToolCall("tooluse_1", "set_variables", '{"variables": {"day": "tuesday"}}')
    body = to_converse([ChatMessage("system", "Be brief."), ChatMessage("assistant", "Hello, dental office."),
                        ChatMessage("user", "Tuesday."), ChatMessage("user", "At ten."),
                        ChatMessage("assistant", "", tool_calls=(call,)),
                        ChatMessage("tool", '{"result": "ok"}', tool_call_id="tooluse_1")])
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"text": OPENING}]},  # the AI greeted first: Converse wants a user turn first
        {"role": "assistant", "content": [{"text": "Hello, dental office."}]},
        {"role": "user", "content": [{"text": "Tuesday."}, {"text": "At ten."}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "set_variables",
                                                       "input": {"variables": {"day": "tuesday"}}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": '{"result": "ok"}'}]}}]}]


async def test_api_key_streams_text_before_the_end_then_usage(fake: FakeBedrockLLM) -> None:
    fake.script(Reply(text="Sure, which day suits you?", usage=(31, 9)))
    fake.faults = Faults(chunk_delay_s=0.03)
    llm = make(fake)
    try:
        stream = llm.stream(MESSAGES, max_tokens=80, temperature=0.3)
        first = await anext(stream)
        assert first == TextDelta("Sure") and not fake.requests[0].closed_at
        rest = [e async for e in stream]
    finally:
        await llm.aclose()
    assert "".join(e.text for e in [first, *rest] if isinstance(e, TextDelta)) == "Sure, which day suits you?"
    assert rest[-1] == Usage(31, 9)
    sent = fake.requests[0]
    assert sent.path == "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.body["system"] == [{"text": "You book dental appointments."}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 80, "temperature": 0.3}


async def test_sigv4_signed_request_verifies_and_tool_calls_are_assembled(
        fake: FakeBedrockLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    args = json.dumps({"variables": {"appointment_day": "tuesday"}})
    fake.script(Reply(text="Booked.", tool_calls=(("set_variables", args), ("stop_service", "")), chunk_chars=5))
    tools = [ToolSpec("set_variables", "Store variables"), ToolSpec("stop_service")]
    events = await collect(signed(fake, monkeypatch), tools=tools)
    assert [e.call for e in events if isinstance(e, ToolCallRequest)] == [
        ToolCall("tooluse_fake1", "set_variables", args), ToolCall("tooluse_fake2", "stop_service", "{}")]
    sent = fake.requests[0]
    assert "/eu-west-3/bedrock/aws4_request" in sent.headers["Authorization"]
    assert fake.refusal == ""  # the fake recomputed the signature from what came over the wire (model id `%3A`)
    assert sent.body["toolConfig"]["tools"][1] == {"toolSpec": {
        "name": "stop_service", "description": "stop_service", "inputSchema": {"json": {"type": "object",
                                                                                         "properties": {}}}}}


async def test_a_wrong_secret_or_key_is_refused_at_once(fake: FakeBedrockLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LLMError, match=r"aws refused the key \(HTTP 403\): InvalidSignatureException: The request signature"):
        await collect(signed(fake, monkeypatch, secret="not-the-secret-0123"))
    assert fake.refusal == "signature mismatch" and len(fake.requests) == 1
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    wrong = "wrong-bedrock-key-987654321"
    with pytest.raises(LLMError, match="UnrecognizedClientException: The security token included") as info:
        await collect(make(fake, key=wrong))
    assert wrong not in str(info.value) and len(fake.requests) == 2


async def test_5xx_or_throttling_once_is_retried(fake: FakeBedrockLLM) -> None:
    fake.faults = Faults(status=503, status_times=1)
    assert (await collect(make(fake)))[0] == TextDelta("Hell") and len(fake.requests) == 2
    fake.faults = Faults(status=429)
    with pytest.raises(LLMError, match=r"HTTP 429: ThrottlingException: injected fault \(after 2 attempts\)"):
        await collect(make(fake, max_retries=1))


async def test_exception_mid_stream_garbage_and_a_drop_are_errors(fake: FakeBedrockLLM) -> None:
    fake.script(Reply(text="Let me check", error="modelStreamErrorException"))
    with pytest.raises(LLMError, match="modelStreamErrorException: The model stream had an error"):
        await collect(make(fake))
    fake.faults = Faults(garbage=True)
    with pytest.raises(LLMError, match="not the ConverseStream protocol: EventStreamError: message CRC mismatch"):
        await collect(make(fake))
    fake.faults = Faults(drop_after=3)
    fake.script(Reply(text="A long answer cut short"))
    with pytest.raises(LLMError, match="aws model"):
        await collect(make(fake, max_retries=0))


async def test_stopping_early_closes_the_request(fake: FakeBedrockLLM) -> None:
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
    none = LLM.check(MODEL)
    assert none.status is Status.NEEDS_SETUP and "AWS_BEARER_TOKEN_BEDROCK" in none.reason
    no_region = LLM.check(MODEL, api_key=API_KEY)
    assert no_region.status is Status.NEEDS_SETUP and "AWS_REGION" in no_region.reason
    assert LLM.check(MODEL, api_key=API_KEY, parameter={"region": "us-west-2"}).available
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert LLM.check(MODEL).available
    assert ACCESS not in repr(create_llm(MODEL)) and SECRET not in repr(create_llm(MODEL))


async def test_timeout_is_retried_then_an_error(fake: FakeBedrockLLM) -> None:
    fake.faults = Faults(latency_s=2.0)
    with pytest.raises(LLMError, match=r"Timeout on reading data from socket \(after 2 attempts\)"):
        await collect(make(fake, timeout_s=0.3, max_retries=1))
    assert len(fake.requests) == 2


async def test_events_of_the_wrong_shape_are_an_error_not_a_crash(fake: FakeBedrockLLM,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine.bench.fakes import bedrock_llm

    def shapeless(reply: Reply, *, garbage: bool = False) -> list[bytes]:
        return [bedrock_llm.frame({":event-type": "contentBlockDelta", ":message-type": "event"}, b'["a list"]')]

    monkeypatch.setattr(bedrock_llm, "_frames", shapeless)
    with pytest.raises(LLMError, match="not the ConverseStream protocol: TypeError"):
        await collect(make(fake))

"""AWS Bedrock ConverseStream over aiohttp against the local fake (event-stream framing, SigV4 or an API key): the
Converse mapping, the request's shape, SigV4 and its refusals, the catalogue's region, then the LLM contract."""
from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from flowengine.bench.fakes.bedrock_llm import FakeBedrockLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.providers.catalogue import LLM, Status
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import ChatMessage, LLMError, LLMProvider, ToolCall, ToolCallRequest, ToolSpec
from flowengine.providers.llm.bedrock import OPENING, to_converse
from tests.providers.llm.contract import LLMContract, collect

API_KEY = "bedrock-api-key-0123456789abcdef"
ACCESS, SECRET = "AKIDTESTBEDROCK", "secret/TESTbedrock+0123456789"
MODEL = "aws.anthropic.claude-3-5-haiku-20241022-v1:0"
ENV = ("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
       "AWS_DEFAULT_REGION", "FLOWENGINE_LLM_AWS_BASE_URL")


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


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


class TestBedrockLLM(LLMContract):
    model = MODEL
    key_environment = "AWS_BEARER_TOKEN_BEDROCK"
    complete_setup: ClassVar[dict[str, Any]] = {"parameter": {"region": "us-west-2"}}
    tool_ids = ("tooluse_fake1", "tooluse_fake2")
    refused_key_error = r"aws refused the key \(HTTP 403\): UnrecognizedClientException: The security token included"
    persistent_status = 429
    persistent_error = r"HTTP 429: ThrottlingException: injected fault \(after 2 attempts\)"
    mid_stream_reply = Reply(text="Let me check", error="modelStreamErrorException")
    mid_stream_error = "modelStreamErrorException: The model stream had an error"
    garbage_error = "not the ConverseStream protocol: EventStreamError: message CRC mismatch"
    dropped_error = "aws model"
    timeout_error = r"Timeout on reading data from socket \(after 2 attempts\)"

    def new_fake(self) -> FakeBedrockLLM:
        return FakeBedrockLLM(api_key=API_KEY, access_key=ACCESS, secret_key=SECRET, region="eu-west-3")

    def make(self, fake: Any, key: str = "", **parameter: Any) -> LLMProvider:
        return create_llm(MODEL, api_key=key or API_KEY, base_url=fake.base_url,
                          parameter={"region": "eu-west-3", **parameter})

    def signed(self, fake: FakeBedrockLLM, monkeypatch: pytest.MonkeyPatch, secret: str = SECRET) -> LLMProvider:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        monkeypatch.setenv("AWS_REGION", "eu-west-3")
        return create_llm(MODEL, base_url=fake.base_url)

    def assert_tool_exchange_sent(self, body: Any, call: ToolCall) -> None:
        assert body["messages"][1:] == [
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_fake0", "name": "stop_service",
                                                           "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_fake0", "content": [{"text": "stopped"}]}}]}]

    async def test_the_request_is_the_documented_converse_stream_call(self, fake: FakeBedrockLLM) -> None:
        await collect(self.make(fake), max_tokens=80, temperature=0.3)
        sent = fake.requests[0]
        assert sent.path == "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream"
        assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
        assert sent.body["system"] == [{"text": "You book dental appointments."}]
        assert sent.body["inferenceConfig"] == {"maxTokens": 80, "temperature": 0.3}

    async def test_a_sigv4_signed_request_verifies(self, fake: FakeBedrockLLM,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        args = json.dumps({"variables": {"appointment_day": "tuesday"}})
        fake.script(Reply(text="Booked.", tool_calls=(("set_variables", args), ("stop_service", "")), chunk_chars=5))
        tools = [ToolSpec("set_variables", "Store variables"), ToolSpec("stop_service")]
        events = await collect(self.signed(fake, monkeypatch), tools=tools)
        assert [e.call for e in events if isinstance(e, ToolCallRequest)] == [
            ToolCall("tooluse_fake1", "set_variables", args), ToolCall("tooluse_fake2", "stop_service", "{}")]
        sent = fake.requests[0]
        assert "/eu-west-3/bedrock/aws4_request" in sent.headers["Authorization"]
        assert fake.refusal == ""  # the fake recomputed the signature from what came over the wire (model id `%3A`)
        assert sent.body["toolConfig"]["tools"][1] == {"toolSpec": {
            "name": "stop_service", "description": "stop_service", "inputSchema": {"json": {"type": "object",
                                                                                             "properties": {}}}}}

    async def test_a_wrong_secret_is_refused_at_once(self, fake: FakeBedrockLLM,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        with pytest.raises(LLMError, match=r"aws refused the key \(HTTP 403\): InvalidSignatureException: "
                                           r"The request signature"):
            await collect(self.signed(fake, monkeypatch, secret="not-the-secret-0123"))
        assert fake.refusal == "signature mismatch" and len(fake.requests) == 1

    def test_the_catalogue_needs_a_region_and_takes_sigv4_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        no_region = LLM.check(MODEL, api_key=API_KEY)
        assert no_region.status is Status.NEEDS_SETUP and "AWS_REGION" in no_region.reason
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        assert LLM.check(MODEL).available
        assert ACCESS not in repr(create_llm(MODEL)) and SECRET not in repr(create_llm(MODEL))

    async def test_events_of_the_wrong_shape_are_an_error_not_a_crash(self, fake: FakeBedrockLLM,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        from flowengine.bench.fakes import bedrock_llm

        def shapeless(reply: Reply, *, garbage: bool = False) -> list[bytes]:
            return [bedrock_llm.frame({":event-type": "contentBlockDelta", ":message-type": "event"}, b'["a list"]')]

        monkeypatch.setattr(bedrock_llm, "_frames", shapeless)
        with pytest.raises(LLMError, match="not the ConverseStream protocol: TypeError"):
            await collect(self.make(fake))

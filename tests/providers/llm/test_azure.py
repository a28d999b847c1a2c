"""Azure OpenAI through the openai package's AsyncAzureOpenAI against the local fake: the deployment URL, the api
version, the content filter, the key and endpoint from the environment, then the LLM contract."""
from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from flowengine.bench.fakes.azure_llm import FakeAzureLLM
from flowengine.bench.fakes.chat import Reply
from flowengine.providers.catalogue import LLM, Status
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import LLMProvider, TextDelta, ToolCall, ToolCallRequest, ToolSpec
from tests.providers.llm.contract import LLMContract, collect

KEY = "azure-test-key-0123456789abcdef"


class TestAzureLLM(LLMContract):
    model = "azure.gpt-4o-frontdesk"
    key_environment = "AZURE_OPENAI_API_KEY"
    complete_setup: ClassVar[dict[str, Any]] = {"parameter": {"endpoint": "https://r.openai.azure.com"}}
    tool_ids = ("call_0_fake", "call_1_fake")
    refused_key_error = r"HTTP 401: Access denied due to invalid subscription key.*engine_key"
    persistent_error = r"azure model 'gpt-4o-frontdesk': HTTP 503"
    mid_stream_reply = Reply(text="Well", error="content_filter")
    mid_stream_error = "azure model 'gpt-4o-frontdesk': the provider's content filter stopped"
    garbage_error = "azure model 'gpt-4o-frontdesk': an answer that is not the chat completions"
    dropped_error = r"azure model 'gpt-4o-frontdesk': .*peer closed connection"
    timeout_error = r"azure model 'gpt-4o-frontdesk': no answer within 0.3 s \(after 1 retries\)"

    def new_fake(self) -> FakeAzureLLM:
        return FakeAzureLLM(api_key=KEY)

    def make(self, fake: Any, key: str = "", **parameter: Any) -> LLMProvider:
        return create_llm(self.model, api_key=key or KEY, parameter={"endpoint": fake.base_url, **parameter})

    def assert_tool_exchange_sent(self, body: Any, call: ToolCall) -> None:
        assert body["messages"][2:] == [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0_fake", "type": "function", "function": {"name": "stop_service", "arguments": "{}"}}]},
            {"role": "tool", "content": "stopped", "tool_call_id": "call_0_fake"}]

    async def test_the_request_goes_to_the_deployment_url_with_the_key_header(self, fake: FakeAzureLLM) -> None:
        await collect(self.make(fake), max_tokens=60)
        sent = fake.requests[0]
        assert sent.path == "/openai/deployments/gpt-4o-frontdesk/chat/completions"
        assert sent.query == {"api-version": "2024-10-21"} and sent.headers["api-key"] == KEY
        assert "Authorization" not in sent.headers
        assert sent.body["messages"][0] == {"role": "system", "content": "You book dental appointments."}
        assert sent.body["max_tokens"] == 60 and sent.body["stream"] is True

    async def test_tool_calls_and_the_api_version_parameter(self, fake: FakeAzureLLM) -> None:
        args = json.dumps({"variables": {"appointment_day": "tuesday"}})
        fake.script(Reply(text="Booked.", tool_calls=(("set_variables", args),), chunk_chars=3))
        events = await collect(self.make(fake, api_version="2025-01-01-preview"), tools=[ToolSpec("set_variables")])
        assert [e.call for e in events if isinstance(e, ToolCallRequest)] == [
            ToolCall("call_0_fake", "set_variables", args)]
        assert fake.requests[0].query["api-version"] == "2025-01-01-preview"

    def test_the_catalogue_needs_the_endpoint_too(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
        no_endpoint = LLM.check("azure.gpt-4o", api_key=KEY)
        assert no_endpoint.status is Status.NEEDS_SETUP and "AZURE_OPENAI_ENDPOINT" in no_endpoint.reason
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com")
        assert LLM.check("azure.gpt-4o", api_key=KEY).available
        assert LLM.check("azure-openai.gpt-4o", api_key=KEY).provider == "azure"  # Vapi's spelling

    async def test_key_and_endpoint_from_the_environment(self, monkeypatch: pytest.MonkeyPatch,
                                                         fake: FakeAzureLLM) -> None:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake.base_url)
        monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
        llm = create_llm("azure.support-bot")
        assert KEY not in repr(llm)
        assert (await collect(llm))[0] == TextDelta("Hell")
        assert fake.requests[0].path == "/openai/deployments/support-bot/chat/completions"
        assert fake.requests[0].query["api-version"] == "2024-06-01"


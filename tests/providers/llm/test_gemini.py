"""Gemini runs on Google's OpenAI-compatible endpoint (no native client): a gemini.<model> AI streams text and a
tool call through the OpenAI-compatible provider."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from flowengine.providers.catalogue import LLM
from flowengine.providers.llm import create_llm
from flowengine.providers.llm.base import ChatMessage, TextDelta, ToolCall, ToolCallRequest, ToolSpec, Usage
from flowengine.providers.llm.endpoints import ENDPOINTS
from flowengine.providers.llm.openai_compat import OpenAICompatLLM
from tests.fakes.openai_server import FakeOpenAIServer, Reply

KEY = "gemini-test-key-0123456789"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as s:
        yield s


async def test_gemini_streams_text_and_a_tool_call(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)  # the second variable Google's SDKs read
    monkeypatch.setenv("FLOWENGINE_LLM_GEMINI_BASE_URL", server.base_url)
    args = json.dumps({"variables": {"appointment_day": "friday"}})
    server.script(Reply(text="Friday it is.", tool_calls=(("set_variables", args),), usage=(40, 12)))
    llm = create_llm("gemini.gemini-2.5-flash")
    assert isinstance(llm, OpenAICompatLLM)
    try:
        events = [e async for e in llm.stream([ChatMessage("user", "Friday please.")],
                                              tools=[ToolSpec("set_variables", "Store variables")])]
    finally:
        await llm.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Friday it is."
    assert [e.call for e in events if isinstance(e, ToolCallRequest)] == [ToolCall("call_0_fake", "set_variables", args)]
    assert events[-1] == Usage(40, 12)
    sent = server.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {KEY}" and sent.body["model"] == "gemini-2.5-flash"
    assert sent.body["tools"][0]["function"]["name"] == "set_variables" and sent.body["stream"] is True
    assert ENDPOINTS["gemini"].base_url == "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert LLM.check("gemini.gemini-2.5-flash").available

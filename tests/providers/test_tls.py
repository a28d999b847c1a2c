"""Every SDK client of the LLM and OpenAI speech providers shares one TLS context (building one per client cost
~15-19 ms of the event loop at each AI call's start)."""
from __future__ import annotations

from typing import Any

from flowengine.providers.cloud import tls_context
from flowengine.providers.credentials import Access
from flowengine.providers.llm import create_llm
from flowengine.providers.openai_speech import make_client


def ssl_context_of(sdk_client: Any) -> Any:
    return sdk_client._client._transport._pool._ssl_context  # the SDK's httpx client's connection pool


async def test_sdk_clients_share_the_processes_tls_context() -> None:
    made = [create_llm("anthropic.claude-haiku-4-5", "k"), create_llm("openai.gpt-4o", "k"),
            create_llm("azure.gpt4o", "k", parameter={"endpoint": "https://r.openai.azure.com"})]
    try:
        for llm in made:
            assert ssl_context_of(llm._client) is tls_context(), llm  # type: ignore[attr-defined]
        speech = make_client(Access(api_key="k"), "https://api.openai.com/v1")
        assert ssl_context_of(speech) is tls_context()
        await speech.close()
        assert tls_context().verify_mode.name == "CERT_REQUIRED" and tls_context().check_hostname
    finally:
        for llm in made:
            await llm.aclose()

"""`create_llm(engine_model)`: the provider an AI's `engine_model` names, configured from its key and parameter."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowengine.providers.llm.base import LLM_PROVIDERS, LLMConfigError, LLMProvider, ModelRef
from flowengine.providers.registry import UnknownProviderError


def create_llm(engine_model: str, api_key: str = "", parameter: Mapping[str, Any] | None = None,
               *, base_url: str = "") -> LLMProvider:
    """`openai.gpt-4o`, `groq:llama-3.3-70b-versatile`, `rules.appointments`... `api_key` is the AI's
    engine_key ("" = the provider's environment variable); `base_url` overrides the provider's default."""
    ref = ModelRef.parse(engine_model)
    try:
        return LLM_PROVIDERS.create(ref.provider, model=ref.model, api_key=api_key, base_url=base_url,
                                    parameter=dict(parameter or {}))
    except UnknownProviderError as exc:
        raise LLMConfigError(f"engine_model {engine_model!r}: {exc}") from None

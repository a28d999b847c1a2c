"""`create_llm(engine_model)`: the provider an AI's `engine_model` names, configured from its key and parameter."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowengine.providers.llm.base import LLMConfigError, LLMProvider


def create_llm(engine_model: str, api_key: str = "", parameter: Mapping[str, Any] | None = None,
               *, base_url: str = "") -> LLMProvider:
    """`openai.gpt-4o`, `groq:llama-3.3-70b-versatile`, `rules.appointments`... `api_key` is the AI's
    engine_key ("" = the provider's environment variable); `base_url` overrides the provider's default.
    Asks the provider catalogue; what it refuses is an LLMConfigError with its reason."""
    from flowengine.providers.catalogue import LLM, ProviderUnavailableError  # the catalogue imports this package

    try:
        return LLM.create(engine_model, api_key=api_key, base_url=base_url, parameter=dict(parameter or {}))
    except ProviderUnavailableError as exc:
        raise LLMConfigError(str(exc)) from None

"""Where each `engine_model` provider lives: base URLs and key variables, for the OpenAI-compatible ones and the
native clients (anthropic, azure) alike (the seed providers this engine cannot run are in
flowengine.providers.vendors, with the reason)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from flowengine.providers.llm.base import LLMConfigError


@dataclass(frozen=True)
class Endpoint:
    provider: str
    base_url: str
    key_env: tuple[str, ...]  # checked in order; the first is always <PROVIDER>_API_KEY
    needs_key: bool = True


def _e(provider: str, base_url: str, *more_env: str, needs_key: bool = True) -> Endpoint:
    return Endpoint(provider, base_url, (f"{provider.upper()}_API_KEY", *more_env), needs_key)


# Every provider of the AI seed's engine_model list whose chat API speaks the OpenAI wire protocol.
ENDPOINTS: dict[str, Endpoint] = {e.provider: e for e in (
    _e("openai", "https://api.openai.com/v1"),
    _e("cerebras", "https://api.cerebras.ai/v1"),
    _e("deepseek", "https://api.deepseek.com/v1"),
    _e("fireworks", "https://api.fireworks.ai/inference/v1"),
    _e("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GOOGLE_API_KEY"),
    _e("grok", "https://api.x.ai/v1", "XAI_API_KEY"),
    _e("groq", "https://api.groq.com/openai/v1"),
    _e("mistral", "https://api.mistral.ai/v1"),
    _e("nvidia", "https://integrate.api.nvidia.com/v1"),
    _e("ollama", "http://127.0.0.1:11434/v1", needs_key=False),
    _e("openrouter", "https://openrouter.ai/api/v1"),
    _e("perplexity", "https://api.perplexity.ai"),
    _e("qwen", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
    _e("sambanova", "https://api.sambanova.ai/v1"),
    _e("together", "https://api.together.xyz/v1"),
)}


# Providers with a wire protocol of their own (kept out of ENDPOINTS, whose every name openai_compat registers).
ANTHROPIC = Endpoint("anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",))
AZURE = Endpoint("azure", "", ("AZURE_OPENAI_API_KEY",))  # the base is the resource's endpoint: no default


def base_url_env(provider: str) -> str:
    return f"FLOWENGINE_LLM_{provider.upper()}_BASE_URL"


def resolve_base_url(endpoint: Endpoint, base_url: str = "") -> str:
    """The factory's base_url, else FLOWENGINE_LLM_<PROVIDER>_BASE_URL, else the provider's default."""
    return base_url or os.environ.get(base_url_env(endpoint.provider), "") or endpoint.base_url


def resolve_api_key(endpoint: Endpoint, api_key: str = "") -> str:
    """The AI's engine_key, else the first environment variable set; a clear error when neither is."""
    if api_key:
        return api_key
    for name in endpoint.key_env:
        if value := os.environ.get(name, ""):
            return value
    if not endpoint.needs_key:
        return endpoint.provider  # the openai client wants some key; local servers ignore it
    raise LLMConfigError(
        f"no API key for {endpoint.provider}: set the AI's engine_key or the environment variable "
        + " / ".join(endpoint.key_env)
    )

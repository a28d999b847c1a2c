"""LLM through Azure OpenAI: the OpenAI-compatible provider with the `openai` package's AsyncAzureOpenAI client
(deployment URLs, the api-version query, the api-key header); `engine_model` is `azure.<deployment>`."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowengine.providers.cloud import tls_context
from flowengine.providers.llm.base import LLM_PROVIDERS, LLMConfigError, LLMProvider
from flowengine.providers.llm.endpoints import AZURE, resolve_api_key
from flowengine.providers.llm.openai_compat import INSTALL_HINT, OpenAICompatLLM
from flowengine.providers.needs import missing_modules

if TYPE_CHECKING:
    from openai import AsyncOpenAI

DEFAULT_API_VERSION = "2024-10-21"  # a dated GA version with streamed tool calls
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
API_VERSION_ENV = "OPENAI_API_VERSION"


class AzureOpenAILLM(OpenAICompatLLM):
    """`base_url` is the resource's endpoint (https://<resource>.openai.azure.com); the model is the deployment."""

    def __init__(self, *, model: str, api_key: str, endpoint: str, api_version: str,
                 parameter: Mapping[str, Any] | None = None) -> None:
        self.api_version = api_version
        super().__init__(provider="azure", model=model, api_key=api_key, base_url=endpoint, parameter=parameter)

    def __repr__(self) -> str:  # never the key
        return f"AzureOpenAILLM(azure.{self.model} at {self.base_url}, api-version {self.api_version})"

    def _make_client(self) -> AsyncOpenAI:
        from openai import AsyncAzureOpenAI, DefaultAsyncHttpxClient

        return AsyncAzureOpenAI(azure_endpoint=self.base_url, api_version=self.api_version, api_key=self._key,
                                http_client=DefaultAsyncHttpxClient(verify=tls_context()),
                                timeout=self.options.timeout_s, max_retries=self.options.max_retries)


def _setting(parameter: Mapping[str, Any] | None, key: str, env: str) -> str:
    value = (parameter or {}).get(key) or os.environ.get(env, "")
    if not isinstance(value, str):
        raise LLMConfigError(f"bad LLM parameter: {key} must be a string, got {value!r}")
    return value.strip()


def endpoint_of(base_url: str, parameter: Mapping[str, Any] | None) -> str:
    """The base_url argument, else parameter `endpoint`, else AZURE_OPENAI_ENDPOINT: no default (it is the
    resource's own host)."""
    endpoint = base_url or _setting(parameter, "endpoint", ENDPOINT_ENV)
    if not endpoint:
        raise LLMConfigError("no endpoint for azure: set the AI's parameter endpoint (https://<resource>.openai."
                             f"azure.com) or the environment variable {ENDPOINT_ENV}")
    return endpoint


def _create(*, model: str = "", api_key: str = "", base_url: str = "",
            parameter: Mapping[str, Any] | None = None) -> LLMProvider:
    return AzureOpenAILLM(model=model, api_key=resolve_api_key(AZURE, api_key),
                          endpoint=endpoint_of(base_url, parameter),
                          api_version=_setting(parameter, "api_version", API_VERSION_ENV) or DEFAULT_API_VERSION,
                          parameter=parameter)


def _ready(*, api_key: str = "", base_url: str = "", parameter: Mapping[str, Any] | None = None, **_: object) -> str:
    """The openai client installed, a key (engine_key or AZURE_OPENAI_API_KEY) and the resource's endpoint."""
    missing = missing_modules(("openai",), f"the azure LLM needs the openai client: {INSTALL_HINT}")
    if missing:
        return missing
    try:
        resolve_api_key(AZURE, api_key)
        endpoint_of(base_url, parameter)
    except LLMConfigError as exc:
        return str(exc)
    return ""


LLM_PROVIDERS.register("azure", ready=_ready)(_create)

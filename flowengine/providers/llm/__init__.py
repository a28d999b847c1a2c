"""Language-model providers: the base class, the registry, OpenAI-compatible, Anthropic, Bedrock, Azure OpenAI
and the offline rule engine."""
from flowengine.providers.llm import anthropic, azure, bedrock, openai_compat, rules  # noqa: F401  (register the providers)
from flowengine.providers.llm.base import (
    LLM_PROVIDERS,
    ChatMessage,
    LLMConfigError,
    LLMError,
    LLMEvent,
    LLMProvider,
    ModelRef,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.llm.factory import create_llm

__all__ = [
    "LLM_PROVIDERS", "ChatMessage", "LLMConfigError", "LLMError", "LLMEvent", "LLMProvider", "ModelRef",
    "TextDelta", "ToolCall", "ToolCallRequest", "ToolSpec", "Usage", "create_llm",
]

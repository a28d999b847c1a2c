"""Speech-to-text providers: the base class, the registry, the offline and HTTP recognisers."""
# importing a provider module registers it: the offline recogniser, the HTTP ones
from flowengine.providers.stt import azure, openai, whisper  # noqa: F401
from flowengine.providers.stt.base import STT_PROVIDERS, STTError, STTProvider, Transcript

__all__ = ["STT_PROVIDERS", "STTError", "STTProvider", "Transcript"]

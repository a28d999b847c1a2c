"""Text-to-speech providers: a small base class, the registry, the offline and HTTP voices."""
# importing a provider module registers it: the offline voices, the HTTP ones
from flowengine.providers.tts import azure, espeak, google, openai, piper  # noqa: F401
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSProvider

__all__ = ["TTS_PROVIDERS", "TTSProvider"]

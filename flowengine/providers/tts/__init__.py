"""Text-to-speech providers: a small base class, the registry, the offline voices."""
from flowengine.providers.tts import aws, espeak, piper  # noqa: F401  (registers the voices)
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSProvider

__all__ = ["TTS_PROVIDERS", "TTSProvider"]

"""Speech-to-text providers: the base class, the registry, the offline recogniser."""
from flowengine.providers.stt import whisper  # noqa: F401  (registers the offline recogniser)
from flowengine.providers.stt.base import STT_PROVIDERS, STTError, STTProvider, Transcript

__all__ = ["STT_PROVIDERS", "STTError", "STTProvider", "Transcript"]

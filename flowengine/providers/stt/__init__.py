"""Speech-to-text providers: the base class, the registry, the offline recogniser and the streaming cloud ones."""
from flowengine.providers.stt import cartesia, deepgram, elevenlabs, whisper  # noqa: F401  (registrations)
from flowengine.providers.stt.base import STT_PROVIDERS, STTError, STTProvider, Transcript

__all__ = ["STT_PROVIDERS", "STTError", "STTProvider", "Transcript"]

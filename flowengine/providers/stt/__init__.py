"""Speech-to-text providers: the base class, the registry, the offline recogniser and the cloud ones."""
from flowengine.providers.stt import (  # noqa: F401  (importing a recogniser registers it)
    azure,
    cartesia,
    deepgram,
    elevenlabs,
    openai,
    whisper,
)
from flowengine.providers.stt.base import STT_PROVIDERS, STTError, STTProvider, Transcript

__all__ = ["STT_PROVIDERS", "STTError", "STTProvider", "Transcript"]

"""Text-to-speech providers: a small base class, the registry, the offline voices, the cloud voices."""
from flowengine.providers.tts import (  # noqa: F401  (importing a voice registers it)
    aws,
    azure,
    cartesia,
    deepgram,
    elevenlabs,
    espeak,
    google,
    hume,
    openai,
    piper,
    playht,
)
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSProvider

__all__ = ["TTS_PROVIDERS", "TTSProvider"]

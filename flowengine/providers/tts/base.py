"""The TTS provider base: text in, PCM16 mono chunks out at the provider's own sample rate."""
from __future__ import annotations

import abc
from collections.abc import AsyncGenerator

import numpy as np

from flowengine.providers.registry import ProviderRegistry


class TTSError(Exception):
    """The voice could not be loaded or could not speak."""


class TTSProvider(abc.ABC):
    """Subclasses implement `stream`; `synthesize` collects it."""

    name: str = ""
    sample_rate: int = 16000

    @abc.abstractmethod
    def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        """Yield int16 mono chunks as soon as each is ready."""

    async def synthesize(self, text: str, *, voice_id: str = "", language: str = "") -> np.ndarray:
        chunks = [c async for c in self.stream(text, voice_id=voice_id, language=language)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    async def warm_up(self) -> None:  # noqa: B027  (an optional hook: most providers have nothing to load)
        """Load what the first `stream` would (models, voices); nothing by default."""

    async def aclose(self) -> None:
        return None


TTS_PROVIDERS: ProviderRegistry[TTSProvider] = ProviderRegistry("tts")

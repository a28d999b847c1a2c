"""The STT provider base: one utterance of PCM16 mono 16 kHz in, its transcript out."""
from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from flowengine.providers.registry import ProviderRegistry

SAMPLE_RATE = 16000


class STTError(Exception):
    """The recogniser could not be loaded or failed on an utterance."""


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str = ""
    confidence: float = 0.0  # 0..1 (mean word/segment probability where the engine gives one)
    audio_ms: int = 0  # length of the audio transcribed
    compute_ms: int = 0  # wall time the recogniser took


class STTProvider(abc.ABC):
    """Subclasses implement `transcribe`. Heavy work must run off the event loop (a thread or a
    process) and models load once per process (`warm_up`)."""

    name: str = ""

    @abc.abstractmethod
    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        """`pcm`: int16 mono at 16 kHz, one utterance. `language`: BCP47 hint ("" = default)."""

    async def warm_up(self) -> None:  # noqa: B027  (an optional hook: most providers have nothing to load)
        """Load models now rather than on the first utterance."""

    async def aclose(self) -> None:
        return None


STT_PROVIDERS: ProviderRegistry[STTProvider] = ProviderRegistry("stt")

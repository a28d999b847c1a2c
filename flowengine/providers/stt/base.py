"""The STT provider base: one utterance of PCM16 mono 16 kHz in, its transcript out; or, for streaming
recognisers, a session fed 20 ms frames as they arrive (`STTStream`)."""
from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from flowengine.providers.clock import Window
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
    compute_ms: int = 0  # wall time the recogniser took (streaming: from `finalize` to the final text)


Expect = Literal["open", "day", "time", "name", "digits", "yes_no"]


@dataclass(frozen=True)
class STTContext:
    """What the conversation expects the caller to say next: the kind of answer to the agent's last question
    and words likely in it (the names on file...). A recogniser may bias towards it; none has to."""

    expect: Expect = "open"
    hints: tuple[str, ...] = ()
    question: str = ""  # the agent's last words, as asked
    # an open question's grammar: the requests the dialog understands, (what it is, a sentence); empty for a
    # language model (LLMProvider.request_phrases)
    requests: tuple[tuple[str, str], ...] = ()
    # the times of day an answer names, when the dialog books only those (its opening hours): a time question's
    # answers and a confirmation's corrections outside it are not offered, and a transcript naming one is scored
    window: Window | None = None


OPEN = STTContext()


EndOfSpeech = Callable[[str], None]
"""Called with the text recognised so far when the provider itself decides the caller finished speaking
(Deepgram's speech_final / UtteranceEnd, ElevenLabs' VAD commit, Cartesia's turn end...)."""


class STTStream(abc.ABC):
    """One call's recognition session. `send` each frame (int16 mono 16 kHz) as it arrives, only while the
    caller speaks (plus the pre-roll); `finalize` at the end of a caller turn returns the final text of
    everything sent since the previous `finalize`. A provider's own end-of-speech signal is reported through
    `on_end_of_speech`; `interim` holds its latest partial text. Failures raise STTError after the stream's
    own safe retry (a reconnect that replays the turn's audio)."""

    def __init__(self) -> None:
        self.on_end_of_speech: EndOfSpeech | None = None
        self.interim = ""
        self.sent_ms = 0  # audio sent to the provider (billed)

    @abc.abstractmethod
    async def send(self, pcm: np.ndarray) -> None:
        """Queue one frame for the provider; never blocks on the network for long (frames arrive every 20 ms)."""

    @abc.abstractmethod
    async def finalize(self) -> Transcript:
        """The final transcript of the audio sent since the previous finalize ("" when nothing was said)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the session (socket closed, request aborted); idempotent."""

    def _end_of_speech(self, text: str) -> None:
        if self.on_end_of_speech is not None:
            self.on_end_of_speech(text)


class STTProvider(abc.ABC):
    """Subclasses implement `transcribe`. Heavy work must run off the event loop (a thread or a
    process) and models load once per process (`warm_up`). Streaming recognisers set `streaming` and
    implement `open_stream`; their `transcribe` runs one stream over a finished utterance."""

    name: str = ""
    streaming: bool = False

    @abc.abstractmethod
    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        """`pcm`: int16 mono at 16 kHz, one utterance. `language`: BCP47 hint ("" = default)."""

    async def transcribe_in_context(self, pcm: np.ndarray, context: STTContext, *, language: str = "") -> Transcript:
        """`transcribe`, told what answer is expected; recognisers that cannot use it just transcribe."""
        return await self.transcribe(pcm, language=language)

    async def open_stream(self, *, language: str = "", keywords: tuple[str, ...] = ()) -> STTStream:
        """A streaming session (streaming providers only)."""
        raise STTError(f"{self.name or type(self).__name__} does not stream")

    async def warm_up(self) -> None:  # noqa: B027  (an optional hook: most providers have nothing to load)
        """Load models now rather than on the first utterance."""

    def busy(self) -> bool:
        """Whether this process's shared recogniser is working on other utterances right now (a local model's
        workers): a speculative transcription then waits out the shortest pauses before it takes a worker. A
        cloud recogniser is never busy here."""
        return False

    async def aclose(self) -> None:
        return None


async def transcribe_by_stream(provider: STTProvider, pcm: np.ndarray, *, language: str = "") -> Transcript:
    """A streaming provider's `transcribe`: one session over one utterance, sent in 20 ms frames."""
    stream = await provider.open_stream(language=language)
    try:
        step = SAMPLE_RATE // 50
        for start in range(0, pcm.size, step):
            await stream.send(pcm[start:start + step])
        return await stream.finalize()
    finally:
        await stream.aclose()


STT_PROVIDERS: ProviderRegistry[STTProvider] = ProviderRegistry("stt")

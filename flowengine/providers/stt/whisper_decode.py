"""Whisper decoding of one utterance: a short encoder window by default, the full 30 s window as fallback."""
from __future__ import annotations

import itertools
import math
import re
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


@dataclass(frozen=True)
class Decoded:
    text: str
    avg_logprob: float
    no_speech_prob: float
    window_frames: int  # encoder window used (3000 = the full 30 s window)


def decode(model: Any, audio: npt.NDArray[np.float32], *, language: str, full_window: bool) -> Decoded:
    """`model`: a faster_whisper.WhisperModel; `audio`: float32 mono 16 kHz in [-1, 1]."""
    if not full_window and len(audio) // HOP + TAIL_FRAMES < FULL_WINDOW_FRAMES:
        result = _decode_window(model, audio, language)
        if not _looks_looped(result):
            return result
    return _decode_full(model, audio, language)


def _decode_window(model: Any, audio: npt.NDArray[np.float32], language: str) -> Decoded:
    import ctranslate2  # type: ignore[import-untyped]
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
    from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]

    frames = max(len(audio) // HOP + TAIL_FRAMES, MIN_WINDOW_FRAMES)
    frames += frames % 2  # the encoder's stride-2 convolution wants an even length
    padded = np.concatenate([audio, np.zeros(frames * HOP, dtype=np.float32)])
    features = model.feature_extractor(padded, chunk_length=None)[:, :frames]
    encoded = model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])))
    multilingual = bool(model.model.is_multilingual)
    tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language if multilingual else None)
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    max_new = min(int(12 + MAX_TOKENS_PER_SECOND * len(audio) / 16000), model.max_length - len(prompt))
    result = model.model.generate(
        encoded,
        [prompt],
        beam_size=1,
        max_length=len(prompt) + max_new,
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or ()),
    )[0]
    tokens = result.sequences_ids[0]
    if len(tokens) >= max_new:
        return Decoded("", -math.inf, 0.0, -1)  # ran to the cap: a loop; the caller re-decodes
    avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
    return _finish(tokenizer.decode(tokens).strip(), avg_logprob, float(result.no_speech_prob), frames)


def _decode_full(model: Any, audio: npt.NDArray[np.float32], language: str) -> Decoded:
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


def _looks_looped(result: Decoded) -> bool:
    if result.window_frames < 0:
        return True
    text = result.text
    if len(text) > 24 and len(text) / len(zlib.compress(text.encode())) > LOOP_COMPRESSION_RATIO:
        return True
    # The same phrase twice in a row ("Hello? Hello?") is what a short window hallucinates most.
    phrases = [p.strip().lower() for p in re.split(r"[.?!]+", text) if p.strip()]
    return any(a == b for a, b in itertools.pairwise(phrases))

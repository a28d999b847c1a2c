"""Whisper told what answer is expected: the free transcript first; for a closed question whose free transcript
holds no answer, every allowed answer sentence is scored against the same encoded audio (forced decoding, the
summed log probability of its tokens) and the best one replaces the transcript when it is likely enough."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flowengine.providers.stt.answers import INCOMPLETE_LEAD, Answers, answers_for
from flowengine.providers.stt.base import STTContext
from flowengine.providers.stt.whisper_decode import (
    Decoded,
    Window,
    decode,
    decode_unlooped,
    encode_window,
    fits_window,
    stop_if,
)
from flowengine.providers.stt.whisper_prior import prior_sums
from flowengine.providers.stt.whisper_tree import decoder_for

# A sentence's score: its summed log probability over the square root of its token count (Answers.length_power,
# 0.5 unless a kind says otherwise; plain sums favour
# short sentences: "No." beats "No, Wednesday."; means favour long ones). Measured on the corpus
# (docs/decisions.md, "recogniser"): right answers score -0.5..-7.5; "What are your opening hours?" asked
# a day scores -8.2..-11.9 against its best day. Below the floor (Answers.floor, per kind) the free
# transcript stays.
REFINE_BEST = 5  # first-round sentences refined in the second round
SCORE_TAIL_FRAMES = 40  # encoder frames (20 ms each) kept after the speech (measured: 10, 40, 80, 160 -> 65, 69, 65, 65 of 96 right)
MIN_PROB = 1e-12
SCORE_BATCH = 8  # sentences per forced alignment


@dataclass(frozen=True)
class Heard:
    decoded: Decoded
    chosen: str  # "free" or "answer"
    score: float  # the best answer's summed log probability (nan when none was scored)


def decode_in_context(model: Any, audio: npt.NDArray[np.float32], context: STTContext, *, language: str,
                      floor: float | None = None, prompt: bool = False, beam_size: int = 1,
                      dropped: threading.Event | None = None) -> Heard:
    """`floor`: instead of the answer kind's own; `prompt`: the free transcript is decoded after the agent's
    question as Whisper's previous text; `dropped`: set when the answer is no longer wanted (`Dropped` is raised
    at the next stage: after the encoding, the free decoding, the first scoring round)."""
    if not fits_window(audio):
        return Heard(decode(model, audio, language=language, full_window=False, beam_size=beam_size), "free",
                     float("nan"))
    window = encode_window(model, audio, language, context.question if prompt else "")
    stop_if(dropped)
    free = decode_unlooped(model, window, audio, language, beam_size=beam_size)
    answers = answers_for(context, free.text)
    if answers is None or answers.holds(free.text):
        return Heard(free, "free", float("nan"))
    stop_if(dropped)
    # stopping at an answer's opening ("Next", "my name is"): the value may follow after a pause, so only an answer
    # the audio itself clearly holds is taken (the whole line "My name is | Sam Taylor" whose free transcript lost
    # the name scores -1.6..-6.2; the opening alone forced into a value: <= -6.8)
    unfinished_text = answers.unfinished(free.text)
    scored, opening = first_round(model, window, len(audio), answers, language)
    if opening is not None and opening[1] - scored[0][1] >= INCOMPLETE_LEAD:
        # "My name is | ..." heard before the pause: the opening alone, not a value forced onto it (which would
        # also end the turn as a complete answer); the turn-taking then waits for the rest
        said = opening[0].rstrip(".")
        return Heard(Decoded(said, opening[1], free.no_speech_prob, window.frames), "incomplete", opening[1])
    refined = answers.then(tuple(text for text, _ in scored[:REFINE_BEST]))
    if refined:
        stop_if(dropped)  # the ending chosen among sentences that share their start; the floor kept on its own scale
        sums = raw_scores(model, window, len(audio), refined)
        best = max(sums, key=lambda s: s[1] / s[2] ** answers.refine_power - answers.handicap(s[0]))[0]
        scored = sorted(((t, total / n ** answers.length_power - answers.handicap(t)) for t, total, n in sums),
                        key=lambda pair: -pair[1])
        scored.insert(0, (best, scored[0][1]))  # the evidence that one of these endings was said
    best, best_score = scored[0]
    value = answers.value_of(best)
    runner_up = next((sc for text, sc in scored[1:] if answers.value_of(text) != value), float("-inf"))
    far_ahead = answers.lead is not None and best_score - runner_up >= answers.lead and not unfinished_text
    least = answers.floor if floor is None else floor
    likely = best_score >= (max(least, answers.unfinished_floor) if unfinished_text else least)
    if not (likely and far_ahead if answers.needs_lead else likely or far_ahead):
        return Heard(free, "free", best_score)
    return Heard(Decoded(best, best_score, free.no_speech_prob, window.frames), "answer", best_score)


def first_round(model: Any, window: Window, audio_len: int, answers: Answers,
                language: str) -> tuple[list[tuple[str, float]], tuple[str, float] | None]:
    """The first round's sentences with their scores, best first, and the best of the openings said alone (None:
    the kind has none)."""
    sums = raw_scores(model, window, audio_len, answers.first + answers.incomplete)
    scored = ranked(sums[:len(answers.first)], length_power=answers.length_power, prior_weight=answers.prior_weight,
                    prior=lambda: prior_sums(model, language, answers.first, raw_scores), handicap=answers.handicap)
    openings = ranked(sums[len(answers.first):], length_power=answers.length_power)
    return scored, (openings[0] if openings else None)


def ranked(sums: list[tuple[str, float, int]], *, length_power: float, prior_weight: float = 0.0,
           prior: Callable[[], list[float]] | None = None,
           handicap: Callable[[str], float] | None = None) -> list[tuple[str, float]]:
    """Each sentence with its score, best first: its summed log probability, less `prior_weight` times `prior()`
    (its sum over silence: whisper_prior) when a weight is given, over its token count ** `length_power`, less its
    `handicap` (Answers.handicap: a time the dialog does not book)."""
    priors = prior() if prior_weight and prior is not None else [0.0] * len(sums)
    scores = [(text, (total - prior_weight * priors[i]) / n ** length_power - (handicap(text) if handicap else 0.0))
              for i, (text, total, n) in enumerate(sums)]
    return sorted(scores, key=lambda pair: -pair[1])


def raw_scores(model: Any, window: Window, audio_len: int, texts: tuple[str, ...]) -> list[tuple[str, float, int]]:
    """Each text's summed log probability given the audio and its token count, from forced decodings over the
    encoded speech (cut after the speech: the decoder's cost grows with the frames it attends to). The texts' prefix
    tree goes through the model's decoder in one pass, every shared prefix once (whisper_tree); for a model whose decoder
    it cannot read, the texts are aligned a batch at a time, each from its start."""
    import ctranslate2  # type: ignore[import-untyped]

    tokenizer = window.tokenizer
    encoded = np.array(window.encoded)
    keep = min(encoded.shape[1], audio_len // 320 + SCORE_TAIL_FRAMES)
    if keep == model.model.n_mels:  # CTranslate2 takes [batch, n_mels, n] for a spectrogram, not encoder output
        keep += 1
    tokens = [tokenizer.encode(" " + text) for text in texts]
    tree = decoder_for(model)
    if tree is not None:
        start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]  # what align() starts from
        totals = tree.sentence_sums(encoded[0, :keep], start, tokens)
        return [(text, total, len(tokens[i])) for i, (text, total) in enumerate(zip(texts, totals, strict=True))]
    # Scored SCORE_BATCH at a time, sentences of equal token counts together (less padding, and the logits of a
    # smaller batch stay in cache: docs/decisions.md, "Where Whisper's CPU per utterance went")
    order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
    sums: dict[int, float] = {}
    for first in range(0, len(order), SCORE_BATCH):
        chunk = order[first:first + SCORE_BATCH]
        batch = np.ascontiguousarray(np.repeat(encoded[:, :keep], len(chunk), axis=0))
        # align() puts the no-timestamps token after the start sequence itself
        results = model.model.align(ctranslate2.StorageView.from_array(batch), list(tokenizer.sot_sequence),
                                    [tokens[i] for i in chunk], keep * 2)
        for i, result in zip(chunk, results, strict=True):
            sums[i] = float(np.sum(np.log(np.maximum(result.text_token_probs, MIN_PROB))))
    return [(text, sums[i], len(tokens[i])) for i, text in enumerate(texts)]

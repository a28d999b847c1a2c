"""Sentences scored with their shared openings decoded once give the scores a forced alignment of each gives."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from flowengine.bench.corpus import VOICES, Line, over_the_line, render
from flowengine.providers.stt.answers import answers_for
from flowengine.providers.stt.base import STTContext
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_context import SCORE_BATCH, SCORE_TAIL_FRAMES
from flowengine.providers.stt.whisper_decode import encode_window
from flowengine.providers.stt.whisper_prefix import ShortDecoding, chains, sentence_sums


def test_the_openings_decoded_cover_every_prefix_once() -> None:
    # "Next Monday", "Next Tuesday", "Monday", "On Monday please": the openings "Next", "", "On Monday"
    sentences = [(7, 1), (7, 2), (1,), (8, 1, 9)]
    assert chains(sentences) == [(7,), (8, 1)]  # () is the start of both; (8,) of (8, 1)
    assert chains([(1,), (2,)]) == [()]  # one-token sentences: one decoding of the start sequence alone
    assert chains([]) == []


@pytest.fixture(scope="module")
async def model() -> object:
    provider = WhisperSTT()
    return (await provider._loaded()).model


@pytest.mark.parametrize(("said", "kind", "voice"), [("Next Tuesday please.", "day", "us-female"),
                                                     ("At ten in the morning.", "time", "caribbean")])
def test_shared_openings_score_as_each_sentence_aligned_alone(model: object, said: str, kind: str,
                                                               voice: str) -> None:
    import ctranslate2  # type: ignore[import-untyped]

    audio = over_the_line(render(Line(said), next(v for v in VOICES if v.name == voice))).astype(np.float32) / 32768
    window = encode_window(model, audio, "en")
    answers = answers_for(STTContext(kind))
    assert answers is not None
    # the first round, and a time's endings (openings of several lengths: "At ten in the", "At ten a.")
    texts = answers.first + answers.then(answers.first[:2])
    tokenizer = window.tokenizer
    tokens = [tokenizer.encode(" " + text) for text in texts]
    encoded = np.array(window.encoded)[:, :len(audio) // 320 + SCORE_TAIL_FRAMES]
    shared = sentence_sums(model, encoded, [*tokenizer.sot_sequence, tokenizer.no_timestamps], tokens, SCORE_BATCH)
    aligned = [float(np.sum(np.log(np.maximum(result.text_token_probs, 1e-12))))
               for result in model.model.align(  # type: ignore[attr-defined]
                   ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(encoded, len(tokens), axis=0))),
                   list(tokenizer.sot_sequence), tokens, encoded.shape[1] * 2)]
    # the same sums up to int8 rounding (an incremental decoding against a whole one: within 1 measured)
    assert np.max(np.abs(np.array(shared) - np.array(aligned))) < 1.0
    assert int(np.argmax(shared)) == int(np.argmax(aligned))
    if kind == "day":  # 27 sentences, 2 decodings ("Next", "On"; the bare days after the start sequence)
        assert len(chains(tokens)) == 2


def test_a_decoder_that_gives_too_few_distributions_falls_back_to_aligning(
        model: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from flowengine.providers.stt import whisper_context

    audio = over_the_line(render(Line("Next Tuesday please."), VOICES[1])).astype(np.float32) / 32768
    window = encode_window(model, audio, "en")
    answers = answers_for(STTContext("day"))
    assert answers is not None
    shared = whisper_context.raw_scores(model, window, len(audio), answers.first)

    def short(*_: object, **__: object) -> list[float]:
        raise ShortDecoding("the decoder gave 1 distributions along a 1-token opening")

    monkeypatch.setattr(whisper_context, "sentence_sums", short)
    with caplog.at_level(logging.DEBUG, logger=whisper_context.__name__):
        aligned = whisper_context.raw_scores(model, window, len(audio), answers.first)
        whisper_context.raw_scores(model, window, len(audio), answers.first)
    said = [r.levelno for r in caplog.records if "shared-opening scoring unavailable" in r.getMessage()]
    assert len(said) == 2 and said.count(logging.WARNING) <= 1  # warned once per process, not at every turn
    assert [t for t, _, _ in aligned] == list(answers.first)
    assert max(aligned, key=lambda s: s[1] / s[2] ** 0.5)[0] == max(shared, key=lambda s: s[1] / s[2] ** 0.5)[0]
    assert max(abs(a[1] - b[1]) for a, b in zip(aligned, shared, strict=True)) < 1.0

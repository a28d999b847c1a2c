"""Whisper's loops: a transcript that repeats itself is decoded again, and what still loops keeps each phrase
once, so one looping utterance cannot hand the dialogue (or the WER) a hundred words."""
from __future__ import annotations

import numpy as np

from flowengine.bench.corpus import VOICES, lines, over_the_line, render
from flowengine.bench.scoring import word_errors
from flowengine.providers.stt.whisper_base import base_model_path
from flowengine.providers.stt.whisper_decode import Decoded, decode, looks_looped, unlooped


def test_a_looping_transcript_keeps_each_repeated_phrase_once() -> None:
    looped = Decoded("No hands, " + "no hands, " * 20 + "and goodbye.", -0.1, 0.3, 3000)
    assert looks_looped(looped)
    assert unlooped(looped).text == "No hands, and goodbye."


def test_a_transcript_that_does_not_loop_is_left_as_it_is() -> None:
    said = Decoded("No thanks, that's it, and goodbye.", -0.3, 0.1, 1000)
    assert unlooped(said) == said
    assert unlooped(Decoded("", -1.0, 0.9, 1000)).text == ""


def test_the_line_whisper_base_looped_on_is_heard_without_a_loop() -> None:
    # Whisper base, greedy, looped on this line ("No hands, no hands, ..." to the 448-token cap of its
    # full-window fallback: 149 word errors on a 6-word line). Loops are fragile (CTranslate2's threaded sums):
    # this is the model as the benchmark measured it, one worker of 2 threads.
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    model = WhisperModel(base_model_path(), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True)
    voice = next(v for v in VOICES if v.name == "us-female")
    line = next(line for line in lines() if line.said == "No thanks, that's it, and goodbye.")
    audio = over_the_line(render(line, voice)).astype(np.float32) / 32768
    heard = decode(model, audio, language="en", full_window=False)
    errors, words = word_errors(line.said, heard.text)
    assert not looks_looped(heard), heard.text
    assert errors <= words, heard.text

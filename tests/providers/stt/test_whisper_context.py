"""Whisper told the question: on corpus lines rendered in voices that are not ours, over an 8 kHz u-law line,
the free transcript misses the day or time and scoring the allowed answers finds it; an answer to something
else is left as it was heard."""
from __future__ import annotations

import numpy as np
import pytest

from flowengine.bench.corpus import VOICES, Line, over_the_line, render
from flowengine.providers.llm.textnorm import normalise
from flowengine.providers.stt.answers import answers_for
from flowengine.providers.stt.base import OPEN, STTContext
from flowengine.providers.stt.whisper import WhisperSTT
from flowengine.providers.stt.whisper_context import SCORE_BATCH, raw_scores
from flowengine.providers.stt.whisper_decode import encode_window

VOICE = {voice.name: voice for voice in VOICES}


@pytest.fixture(scope="module")
async def stt() -> WhisperSTT:
    provider = WhisperSTT()
    await provider.warm_up()
    return provider


def heard_line(text: str, voice: str) -> np.ndarray:
    return over_the_line(render(Line(text), VOICE[voice]))


@pytest.mark.parametrize("voice", ["us-female", "gb-male-slow", "gb-female-fast"])
async def test_the_day_asked_for_is_found_where_free_decoding_misses_it(stt: WhisperSTT, voice: str) -> None:
    pcm = heard_line("Next Tuesday please.", voice)
    free = await stt.transcribe(pcm)
    assert "tuesday" not in normalise(free.text)  # what tiny.en alone hears ("Next, go for the green.")
    asked = await stt.transcribe_in_context(pcm, STTContext("day", question="Which day would you like?"))
    assert "tuesday" in normalise(asked.text).split()


@pytest.mark.parametrize("voice", ["us-female", "gb-female-fast"])  # caribbean: too near the floor to be stable
async def test_the_time_asked_for_is_found_with_its_part_of_the_day(stt: WhisperSTT, voice: str) -> None:
    pcm = heard_line("At ten in the morning.", voice)
    free = await stt.transcribe(pcm)
    assert "10" not in normalise(free.text).split()
    asked = await stt.transcribe_in_context(pcm, STTContext("time", question="What time suits you?"))
    assert normalise(asked.text).removeprefix("at ") == "10 in the morning"


async def test_an_answer_to_another_question_is_not_forced_into_a_day(stt: WhisperSTT) -> None:
    pcm = heard_line("What are your opening hours?", "us-female")
    asked = await stt.transcribe_in_context(pcm, STTContext("day", question="Which day would you like?"))
    assert "opening hours" in normalise(asked.text)
    assert (await stt.transcribe_in_context(pcm, OPEN)).text == (await stt.transcribe(pcm)).text


@pytest.mark.parametrize("voice", ["us-male", "scottish"])  # free: "No, when they...", "" (margins >= 0.8)
async def test_a_no_with_a_day_at_the_confirmation_keeps_the_day(stt: WhisperSTT, voice: str) -> None:
    pcm = heard_line("No, Wednesday.", voice)
    asked = await stt.transcribe_in_context(pcm, STTContext("yes_no", question="Shall I book it?"))
    assert normalise(asked.text) == "no wednesday"


async def test_answers_scored_in_batches_keep_their_sentences(stt: WhisperSTT) -> None:
    # more sentences than one batch, of different token counts (sorted by length to be scored, then put back)
    model = (await stt._loaded()).model
    audio = heard_line("Next Tuesday please.", "us-female").astype(np.float32) / 32768
    window = encode_window(model, audio, "en")
    answers = answers_for(STTContext("day"))
    assert answers is not None and len(answers.first) > 2 * SCORE_BATCH
    sums = raw_scores(model, window, len(audio), answers.first)
    assert [text for text, _, _ in sums] == list(answers.first)
    assert all(n == len(window.tokenizer.encode(" " + text)) for text, _, n in sums)
    best = max(sums, key=lambda s: s[1] / s[2] ** answers.length_power)[0]
    assert "Tuesday" in best

"""`flowengine demo --caller-voice`: the caller's voice is a corpus voice (or piper), and a wrong name is refused."""
from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from flowengine.bench.corpus import VOICES, corpus_voice
from flowengine.bench.demo import DEMO_CALLER_VOICE, VOICE_TURNS, caller_prompts
from flowengine.cli.main import main
from flowengine.providers.tts.base import TTSProvider


def test_an_unknown_caller_voice_is_refused_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--caller-voice", "robot"]) == 2
    assert "--caller-voice: no voice 'robot'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no caller voice 'robot': the corpus has us-male"):
        corpus_voice("robot")


async def test_the_default_caller_speaks_with_a_corpus_voice_not_the_agents() -> None:
    assert DEMO_CALLER_VOICE in {v.name for v in VOICES}
    no_tts = cast(TTSProvider, None)  # a corpus voice needs no TTS of the engine's: espeak-ng renders it
    prompts = await caller_prompts(no_tts, [*VOICE_TURNS[:2], "My number is five | one two."], DEMO_CALLER_VOICE)
    assert [p.dtype for p in prompts] == [np.dtype(np.int16)] * 3
    assert all(0.3 < p.size / 16000 < 5.0 for p in prompts)
    step = 160
    quiet = np.sqrt((prompts[2][: prompts[2].size // step * step].reshape(-1, step).astype(float) ** 2).mean(axis=1))
    assert (quiet < 100).sum() * 10 >= 400  # the pause mark became silence

"""`bench conversation`'s barge-in measure: what the caller hears, and an interruption the engine hears whole."""
from __future__ import annotations

from typing import cast

import numpy as np

from flowengine.asterisk.ari.client import AriClient
from flowengine.bench.caller import ScriptedCaller
from flowengine.bench.conversation import INTERRUPTION, barge_in_stop
from flowengine.bench.demo import caller_voice
from flowengine.media.vad import SpeechEnded, VadAnalyzer, VadConfig
from flowengine.media.vad_backends import make_vad_backend
from flowengine.providers.tts import TTS_PROVIDERS

FRAME = 320


def voiced_at(*stretches: tuple[int, int]) -> list[float]:
    """Arrival times (s) of 20 ms frames carrying the agent's voice, for stretches given in ms."""
    return [t / 1000 for start, end in stretches for t in range(start, end, 20)]


def test_the_stop_is_the_agents_last_frame_the_caller_hears_even_after_a_false_interruption() -> None:
    # measured on the old interruption ("Sorry, wait a moment."): the agent stopped, went on, stopped for good
    assert barge_in_stop(voiced_at((0, 260), (640, 960))) == (0.94, True)
    assert barge_in_stop(voiced_at((0, 240))) == (0.22, False)
    assert barge_in_stop(voiced_at((0, 100), (160, 240))) == (0.22, False)  # a word gap, not a resumption
    assert barge_in_stop([]) is None


def test_the_caller_tells_the_agents_voice_from_silence() -> None:
    caller = ScriptedCaller(cast(AriClient, None))
    loud, quiet = np.full(FRAME, 2000, dtype=np.int16), np.full(FRAME, 40, dtype=np.int16)
    caller.frames = [(1.00, loud), (1.02, loud), (1.04, quiet), (1.06, loud), (1.08, np.zeros(FRAME, np.int16)),
                     (2.00, loud)]
    assert caller.agent_audio(1.01, 1.5) == [1.02, 1.06]


async def test_the_interruption_is_one_utterance_for_the_engines_vad() -> None:
    tts = TTS_PROVIDERS.create("piper")

    async def utterances(text: str) -> int:
        pcm = caller_voice(tts, await tts.synthesize(text))
        vad = VadAnalyzer(make_vad_backend("webrtc", 16000), VadConfig())  # the demo AI's: the defaults
        padded = np.concatenate([pcm, np.zeros(16000, np.int16)])
        events = [e for i in range(0, padded.size - FRAME + 1, FRAME) for e in vad.process(padded[i:i + FRAME])]
        return sum(isinstance(e, SpeechEnded) for e in events)

    assert await utterances(INTERRUPTION) == 1
    assert await utterances("Sorry, wait a moment.") == 2  # the comma's pause outlasts the VAD's stop time

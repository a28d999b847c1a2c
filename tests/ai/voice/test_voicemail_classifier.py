"""The audio answering-machine classifier on scripted frames and VAD events (stream time, no I/O)."""
from __future__ import annotations

import numpy as np

from flowengine.ai.voice.voicemail import AudioClassifier, Verdict
from flowengine.media.frames import AudioFrame
from flowengine.media.vad import SpeechEnded, SpeechStarted
from flowengine.store.aifeatures import VoicemailDetection

SETTINGS = VoicemailDetection(provider="audio", speech_threshold_ms=2400, speech_end_threshold_ms=1200,
                              silence_timeout_ms=5000)
QUIET = np.zeros(320, dtype=np.int16)
BEEP = (np.sin(2 * np.pi * 1000 * np.arange(320) / 16000) * 8000).astype(np.int16)


def run(timeline: dict[int, object], until_ms: int, beep: tuple[int, int] | None = None) -> Verdict | None:
    """Feed 20 ms frames up to `until_ms`; events are put in before the frame of their time."""
    classifier = AudioClassifier(SETTINGS)
    for t in range(0, until_ms, 20):
        if t in timeline:
            verdict = classifier.feed(timeline[t])
            if verdict is not None:
                return verdict
        pcm = BEEP if beep is not None and beep[0] <= t < beep[1] else QUIET
        verdict = classifier.feed(AudioFrame(pcm, t))
        if verdict is not None:
            return verdict
    return None


def test_a_short_hello_then_silence_is_a_person() -> None:
    verdict = run({300: SpeechStarted(t_ms=500, start_ms=300), 1000: SpeechEnded(t_ms=1200, start_ms=300, end_ms=1000)},
                  6000)
    assert verdict is not None and verdict.answer == "human"
    assert 2200 <= verdict.at_ms <= 2300  # 1.2 s of silence after the hello


def test_a_long_greeting_then_its_beep_is_a_machine_ready_when_the_beep_ends() -> None:
    timeline = {200: SpeechStarted(t_ms=400, start_ms=200),
                4200: SpeechEnded(t_ms=4400, start_ms=200, end_ms=4200)}
    verdict = run(timeline, 9000, beep=(4600, 5000))
    assert verdict is not None and verdict.answer == "machine"
    assert verdict.beep is not None and 4980 <= verdict.ready_ms <= 5060
    assert verdict.how.startswith("greeting of")


def test_a_machine_without_beep_gets_the_message_after_its_greeting_falls_silent() -> None:
    timeline = {200: SpeechStarted(t_ms=400, start_ms=200),
                4200: SpeechEnded(t_ms=4400, start_ms=200, end_ms=4200)}
    verdict = run(timeline, 12000)
    assert verdict is not None and verdict.answer == "machine" and verdict.beep is None
    assert verdict.ready_ms >= 4200 + 2000


def test_nobody_speaks_is_unknown() -> None:
    verdict = run({}, 8000)
    assert verdict is not None and verdict.answer == "unknown" and verdict.at_ms == 5000


def test_a_beep_alone_is_a_machine() -> None:
    verdict = run({}, 3000, beep=(500, 900))
    assert verdict is not None and verdict.answer == "machine" and verdict.how == "beep"

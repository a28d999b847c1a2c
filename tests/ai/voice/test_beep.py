"""Beep detection: a steady in-band tone is a beep; speech, silence, short blips and low tones are not."""
from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from flowengine.ai.voice.beep import Beep, BeepDetector, find_beeps
from flowengine.media.g711 import ulaw_decode, ulaw_encode

RATE = 16000


def tone(freq: float, ms: int, amplitude: float = 8000) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def speech(tmp: Path, text: str) -> np.ndarray:
    raw, out = tmp / "raw.wav", tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    with wave.open(str(out)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def test_a_tone_is_one_beep_with_its_frequency_and_end() -> None:
    beeps = find_beeps(np.concatenate([silence(500), tone(1000, 400), silence(500)]))
    assert len(beeps) == 1
    beep = beeps[0]
    assert abs(beep.frequency_hz - 1000) < 10
    assert 480 <= beep.start_ms <= 520 and 880 <= beep.end_ms <= 960  # the 40 ms window lags by a frame


def test_band_edges_and_length() -> None:
    assert find_beeps(np.concatenate([silence(200), tone(1800, 300), silence(200)]))
    assert find_beeps(np.concatenate([silence(200), tone(850, 300), silence(200)]))
    assert not find_beeps(np.concatenate([silence(200), tone(440, 500), silence(200)]))  # below the band
    assert not find_beeps(np.concatenate([silence(200), tone(1000, 80), silence(200)]))  # a click, not a beep
    assert not find_beeps(np.concatenate([silence(200), tone(1000, 400, amplitude=100), silence(200)]))  # too quiet


def test_speech_and_silence_are_not_beeps(tmp_path: Path) -> None:
    greeting = speech(tmp_path, "Hello, you have reached the office of John Smith. I cannot take your call "
                                "right now. Please leave a message after the tone.")
    assert find_beeps(greeting) == []
    assert find_beeps(silence(3000)) == []
    noise = (np.random.default_rng(7).normal(0, 3000, RATE * 2)).astype(np.int16)
    assert find_beeps(noise) == []


def test_the_beep_after_a_greeting_through_the_phone_codec(tmp_path: Path) -> None:
    greeting = speech(tmp_path, "Please leave a message after the tone.")
    audio = np.concatenate([greeting, silence(300), tone(1000, 500), silence(1000)])
    # what arrives over a ulaw phone line: 8 kHz G.711 and back to 16 kHz
    narrow = audio[::2]
    line = np.repeat(ulaw_decode(ulaw_encode(narrow)), 2)
    beeps = find_beeps(line)
    assert len(beeps) == 1
    beep_end_ms = (greeting.size + RATE * 800 // 1000) * 1000 // RATE
    assert abs(beeps[0].end_ms - beep_end_ms) <= 60


def test_streaming_detector_reports_when_the_tone_stops() -> None:
    detector = BeepDetector()
    audio = np.concatenate([tone(1200, 300), silence(100)])
    found: list[Beep] = []
    for i in range(audio.size // 320):
        beep = detector.push(audio[i * 320:(i + 1) * 320], i * 20)
        if beep is not None:
            found.append(beep)
            assert i * 20 <= 360  # reported on the first quiet frames, not later
    assert len(found) == 1 and found[0].duration_ms >= 280

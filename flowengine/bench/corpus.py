"""The caller corpus: what callers say to the receptionist, in voices that are not the agent's, over a phone line.

Every line is rendered at run time by espeak-ng (a Debian package the project installs) in one of
several voices, rates and pitches, cut to the telephone band, optionally mixed with noise at a
given SNR, and returned at 16 kHz (what a `ScriptedCaller` plays; the call itself carries it as
8 kHz u-law). Rendering is deterministic: the same line, voice and noise give the same samples.
"""
from __future__ import annotations

import functools
import subprocess
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from flowengine.media.g711 import ulaw_decode, ulaw_encode
from flowengine.media.resample import resample

RATE = 16_000
PAUSE = " | "  # in a line: a pause mid-thought, of the line's `pause_ms`


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice (`-v`, with an optional +variant), its speed (words per minute) and pitch (0-99)."""

    name: str
    espeak: str
    rate: int = 165
    pitch: int = 50


VOICES = (
    Voice("us-male", "en-us", 165, 45),
    Voice("us-female", "en-us+f3", 175, 60),
    Voice("gb-male-slow", "en-gb+m3", 140, 35),
    Voice("gb-female-fast", "en-gb-x-rp+f2", 195, 70),
    Voice("scottish", "en-gb-scotland+m1", 160, 50),
    Voice("caribbean", "en-029+f4", 170, 55),
    Voice("us-male-slow", "en-us+m1", 130, 40),  # the demo's caller
)


def corpus_voice(name: str) -> Voice:
    """The voice called `name`."""
    for voice in VOICES:
        if voice.name == name:
            return voice
    raise ValueError(f"no caller voice {name!r}: the corpus has {', '.join(v.name for v in VOICES)}")


SNR_DB: tuple[float | None, ...] = (None, 20.0, 10.0)  # None: a clean line
# The practice's patients: the corpus's callers among others, with names that sound alike. The receptionist is
# given them (the AI's `parameter.stt_keywords`) as the names its recogniser scores a name answer against; a
# caller not on file is still heard by free decoding.
PATIENTS_ON_FILE = (
    "Alex Morgan", "Sam Taylor", "Jordan Lee", "Chris Walker", "Pat Johnson", "Robin Harris", "Taylor Brooks",
    "Morgan Price", "Jamie Cooper", "Casey Ward", "Drew Bennett", "Avery Collins", "Riley Hughes", "Quinn Foster",
    "Jesse Palmer", "Lee Jordan", "Sam Tyler", "Alex Martin", "Jordan Lewis", "Sandy Taylor",
)


@dataclass(frozen=True)
class Line:
    """One caller turn. `text` may hold PAUSE marks (said with `pause_ms` of silence: still one turn).
    `slots`: what a listener must take from it (day, time, name, phone as the receptionist stores them).
    `take`: how many times the caller said these words before in the call: a line said again is a new utterance,
    in other noise (the same voice: espeak-ng says the words alike each time)."""

    text: str
    slots: dict[str, str] = field(default_factory=dict)
    pause_ms: int = 0
    take: int = 0

    @property
    def said(self) -> str:
        """The words, without pause marks (the reference for WER)."""
        return " ".join(part.strip() for part in self.text.split(PAUSE))


@dataclass(frozen=True)
class Dialogue:
    """Caller lines in order, and the booking the receptionist should hold at the end (empty: none)."""

    name: str
    lines: tuple[Line, ...]
    booking: dict[str, str] = field(default_factory=dict)


DIALOGUES = (
    Dialogue("booking", (
        Line("Hi, I would like to book an appointment."),
        Line("Next Tuesday please.", {"day": "Tuesday"}),
        Line("At ten in the morning.", {"time": "10 in the morning"}),
        Line("My name is Alex Morgan.", {"name": "Alex Morgan"}),
        Line("Yes please."),
        Line("No thanks, that's it, | and goodbye.", pause_ms=500),
    ), {"day": "Tuesday", "time": "10 in the morning", "name": "Alex Morgan"}),
    Dialogue("booking-paused", (
        Line("I need to make | an appointment please.", pause_ms=400),
        Line("On Friday.", {"day": "Friday"}),
        Line("At three | in the afternoon.", {"time": "3 in the afternoon"}, pause_ms=600),
        Line("My name is | Sam Taylor.", {"name": "Sam Taylor"}, pause_ms=500),
        Line("Yes, that's right."),
        Line("That's all, goodbye."),
    ), {"day": "Friday", "time": "3 in the afternoon", "name": "Sam Taylor"}),
    Dialogue("booking-correction", (
        Line("Can I book a cleaning?"),
        Line("Monday.", {"day": "Monday"}),
        Line("At eleven a.m.", {"time": "11 am"}),
        Line("Jordan Lee.", {"name": "Jordan Lee"}),
        Line("No, Wednesday.", {"day": "Wednesday"}),
        Line("At eleven a.m.", {"time": "11 am"}),
        Line("Yes."),
        Line("Goodbye."),
    ), {"day": "Wednesday", "time": "11 am", "name": "Jordan Lee"}),
    Dialogue("hours", (
        Line("What are your opening hours?"),
        Line("Are you open on Saturday?"),
        Line("Thanks, bye."),
    )),
    Dialogue("phone-number", (
        Line("My phone number is five five five, | one two three, | four five six seven.",
             {"phone": "5551234567"}, pause_ms=700),
        Line("Goodbye."),
    )),
)


def lines() -> list[Line]:
    """Every distinct line of the corpus, in order."""
    return list({line.text: line for dialogue in DIALOGUES for line in dialogue.lines}.values())


def render(line: Line, voice: Voice, snr_db: float | None = None) -> npt.NDArray[np.int16]:
    """`line` as `voice` says it on a phone line (300-3400 Hz) with noise at `snr_db`, 16 kHz int16."""
    gap = np.zeros(RATE * line.pause_ms // 1000, dtype=np.int16)
    parts: list[npt.NDArray[np.int16]] = []
    for index, part in enumerate(line.text.split(PAUSE)):
        if index:
            parts.append(gap)
        parts.append(_speak(part.strip(), voice))
    again = f"|{line.take}" if line.take else ""  # the first take's noise as it always was
    return telephone(np.concatenate(parts), snr_db,
                     seed=zlib.crc32(f"{line.text}|{voice.name}|{snr_db}{again}".encode()))


def telephone(pcm: npt.NDArray[np.int16], snr_db: float | None, seed: int = 0) -> npt.NDArray[np.int16]:
    """Band-limit 16 kHz speech to the telephone band and add pink-ish noise at `snr_db` (relative to the
    speech's own power over its voiced frames)."""
    audio = _band(pcm.astype(np.float64))
    if snr_db is not None:
        rng = np.random.default_rng(seed)
        noise = _band(np.cumsum(rng.standard_normal(audio.size)) * 0.02 + rng.standard_normal(audio.size))
        power = _speech_power(audio)
        noise *= np.sqrt(power / (10 ** (snr_db / 10)) / max(float(np.mean(noise**2)), 1e-12))
        audio = audio + noise
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 32000:
        audio *= 32000 / peak
    return np.round(audio).astype(np.int16)


def over_the_line(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """What an 8 kHz u-law call delivers of 16 kHz audio, back at 16 kHz (for offline measurements that
    skip Asterisk; real calls do this themselves)."""
    narrow = resample(pcm, RATE, 8000)
    return resample(ulaw_decode(ulaw_encode(narrow)), 8000, RATE)


def _band(audio: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(audio.size, 1 / RATE)
    # G.712's channel: flat 300-3400 Hz, rolled off (raised cosine) to nothing at 200 and 3700 Hz
    low = np.clip((freqs - 200) / 100, 0, 1)
    high = np.clip((3700 - freqs) / 300, 0, 1)
    spectrum *= (0.5 - 0.5 * np.cos(np.pi * low)) * (0.5 - 0.5 * np.cos(np.pi * high))
    return np.fft.irfft(spectrum, audio.size)


def _speech_power(audio: npt.NDArray[np.float64]) -> float:
    step = RATE // 50
    frames = audio[: audio.size - audio.size % step].reshape(-1, step)
    power = (frames**2).mean(axis=1)
    voiced = power[power > power.max() * 1e-3] if power.size else power
    return float(voiced.mean()) if voiced.size else 1.0


@functools.lru_cache(maxsize=512)
def _speak_cached(text: str, voice: Voice) -> bytes:
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice.espeak, "-s", str(voice.rate), "-p", str(voice.pitch), text],
        capture_output=True, check=True, timeout=30).stdout
    raw = subprocess.run(
        # -D: no dither (sox dithers with fresh random noise on every run when it lowers the bit depth or
        # resamples), so the same line renders to the same samples
        ["sox", "-D", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav, capture_output=True, check=True, timeout=30).stdout
    return raw


def _speak(text: str, voice: Voice) -> npt.NDArray[np.int16]:
    pcm = np.frombuffer(_speak_cached(text, voice), dtype="<i2").astype(np.int16)
    return _trim(pcm)


def _trim(pcm: npt.NDArray[np.int16], threshold: float = 200.0) -> npt.NDArray[np.int16]:
    """Leading and trailing silence cut, so the end of the audio is the end of the speech."""
    step = RATE // 100
    frames = pcm[: pcm.size - pcm.size % step].astype(np.float64).reshape(-1, step)
    voiced = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > threshold)
    if voiced.size == 0:
        return pcm
    return pcm[voiced[0] * step: (voiced[-1] + 1) * step]

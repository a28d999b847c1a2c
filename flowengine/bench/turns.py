"""`bench turns`: smart turn-taking against plain VAD on prepared utterances with pauses mid-thought."""
from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from flowengine.ai.voice.endpointing import TurnEnd, TurnJudge
from flowengine.bench.demo import trim_silence
from flowengine.bench.media import machine
from flowengine.media.vad import SpeechEnded, SpeechStarted, VadAnalyzer, VadConfig
from flowengine.media.vad_backends import make_vad_backend
from flowengine.providers.stt.base import STTProvider
from flowengine.providers.tts.base import TTSProvider

log = logging.getLogger(__name__)
FRAME = 160  # 20 ms at 8 kHz, the rate of the calls the VAD listens to


@dataclass(frozen=True)
class Utterance:
    """Parts said with `pause_ms` of silence between them; all of it is one turn of the caller."""

    parts: tuple[str, ...]
    pause_ms: int = 0


UTTERANCES = (
    Utterance(("My number is five five five", "one two three four."), 700),
    Utterance(("I would like to come on Tuesday and", "bring my daughter as well."), 600),
    Utterance(("Um", "I need to change my appointment."), 700),
    Utterance(("It is for a cleaning and", "a check up."), 600),
    Utterance(("My name is", "Alex Morgan."), 600),
    Utterance(("I would like to book an appointment.",)),
    Utterance(("Tuesday at ten in the morning.",)),
    Utterance(("Yes, that is right.",)),
    Utterance(("What are your opening hours?",)),
    Utterance(("No thanks, goodbye.",)),
)


async def _render(tts: TTSProvider, utt: Utterance) -> tuple[np.ndarray, int]:
    """8 kHz PCM of the utterance (with 1 s of silence after) and where its speech really ends (ms)."""
    pieces: list[np.ndarray] = []
    for index, text in enumerate(utt.parts):
        audio = await tts.synthesize(text)
        audio = soxr.resample(audio.astype(np.float32) / 32768, tts.sample_rate, 8000)
        pieces.append(trim_silence(np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16), rate=8000))
        if index < len(utt.parts) - 1:
            pieces.append(np.zeros(8 * utt.pause_ms, dtype=np.int16))
    speech = np.concatenate(pieces)
    end_ms = len(speech) // 8
    return np.concatenate([speech, np.zeros(8000, dtype=np.int16)]), end_ms


async def _turn_end(pcm: np.ndarray, stt: STTProvider, smart: bool) -> tuple[int | None, bool]:
    """When the caller's turn is judged over (ms of stream time), and whether that was before the
    utterance was complete (a premature end: the agent would have cut in)."""
    config = VadConfig(stop_secs=0.2)
    vad = VadAnalyzer(make_vad_backend("webrtc", 8000, config), config)
    judge = TurnJudge(smart)
    start_ms = 0
    held_until: int | None = None
    n = len(pcm) // FRAME
    for i in range(n):
        frame = pcm[i * FRAME:(i + 1) * FRAME]
        t_ms = (i + 1) * 20
        if held_until is not None and t_ms >= held_until:
            return t_ms, False  # nothing more came: answer now
        for event in vad.process(frame):
            if isinstance(event, SpeechStarted):
                start_ms = event.start_ms  # this stretch; held ones are in the judge already
                held_until = None
            elif isinstance(event, SpeechEnded):
                heard = pcm[max(0, start_ms - 300) * 8: event.end_ms * 8]
                up16 = soxr.resample(heard.astype(np.float32) / 32768, 8000, 16000)
                text = (await stt.transcribe(np.clip(np.round(up16 * 32768), -32768, 32767).astype(np.int16))).text
                log.debug("%s: %r at %d ms", "smart" if smart else "plain", text, event.end_ms)
                if judge.judge(text) is TurnEnd.WAIT:
                    judge.hold(text)
                    held_until = t_ms + judge.extra_wait_ms
                    continue
                return t_ms, False
    return None, False


async def run_turn_bench(tts: TTSProvider, stt: STTProvider) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    rendered = [await _render(tts, utt) for utt in UTTERANCES]
    for mode in ("plain", "smart"):
        premature = 0
        delays: list[float] = []
        for utt, (pcm, end_ms) in zip(UTTERANCES, rendered, strict=True):
            ended, _ = await _turn_end(pcm, stt, mode == "smart")
            if ended is None:
                continue
            if ended < end_ms:
                premature += 1
            elif len(utt.parts) == 1:
                delays.append(ended - end_ms)
        results[mode] = {
            "premature_turn_ends": premature,  # the turn judged over before the caller had finished
            "end_delay_ms_complete_p50": round(statistics.median(delays), 1) if delays else None,
        }
    with_pauses = sum(1 for u in UTTERANCES if len(u.parts) > 1)
    return {"utterances": len(UTTERANCES), "with_pauses_mid_thought": with_pauses, **results, "machine": machine()}

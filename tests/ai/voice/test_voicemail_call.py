"""Voicemail detection on a real outbound call: an answering machine (a Local channel playing a prepared
greeting and beep) gets the voicemail message after its beep, and the AI call ends with `voicemail`."""
from __future__ import annotations

import subprocess
import uuid
import wave
from pathlib import Path

import numpy as np

from flowengine.ai.voice.voicemail import AudioClassifier  # noqa: F401  (the classifier under test)
from flowengine.asterisk.ari.client import AriClient
from tests.ai.fakes import ScriptedSTT, ScriptedToolLLM
from tests.ai.voice.test_call_rules import AI_ID, rules_harness
from tests.conftest import Asterisk
from tests.support import eventually

GREETING = ("Hello, you have reached John Smith. I cannot take your call right now. "
            "Please leave a message after the tone.")
MESSAGE = "Hi John, this is Bright Smile Dental. Please call us back about your appointment."
RATE = 8000
BEEP_GAP_S, BEEP_S = 0.4, 0.5


def answering_machine(spool: Path, name: str, tmp: Path) -> float:
    """Writes spool/recording/am-<name>-greeting.wav (8 kHz): greeting, a pause, a 1 kHz beep. Returns
    where the beep ends, in seconds from the start of the greeting."""
    raw, narrow = tmp / "greeting-raw.wav", tmp / "greeting-8k.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), GREETING], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(narrow)], check=True)
    with wave.open(str(narrow)) as w:
        greeting = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    t = np.arange(int(RATE * BEEP_S)) / RATE
    beep = (np.sin(2 * np.pi * 1000 * t) * 9000).astype(np.int16)
    audio = np.concatenate([greeting, np.zeros(int(RATE * BEEP_GAP_S), np.int16), beep,
                            np.zeros(RATE // 5, np.int16)])
    with wave.open(str(spool / "recording" / f"am-{name}-greeting.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(audio.tobytes())
    return greeting.size / RATE + BEEP_GAP_S + BEEP_S


def loud_frames(path: Path) -> np.ndarray:
    """Start times (s) of the 20 ms frames louder than a quiet line."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    frame = rate // 50
    frames = pcm[: pcm.size - pcm.size % frame].reshape(-1, frame)
    rms = np.sqrt((frames**2).mean(axis=1))
    return np.flatnonzero(rms > 300) * 0.02


async def test_the_message_is_left_after_the_beep_and_the_call_ends_with_voicemail(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    spool = asterisk.instance.directory / "spool"
    name = uuid.uuid4().hex[:8]
    beep_end_s = answering_machine(spool, name, tmp_path)
    flow = {"id": "outbound", "actions": [{"type": "ai_talk", "option": {"assistance_id": AI_ID}}]}
    async with rules_harness(asterisk, ari, tmp_path, ScriptedToolLLM([]), ScriptedSTT([]),
                             first_message="Hello, this is Bright Smile Dental.",
                             voicemail_detection={"provider": "audio"}, voicemail_message=MESSAGE,
                             end_call_message="Not for machines.") as (h, service, _):
        h.flows.add(flow)
        await h.service.dial_flow(f"Local/am-{name}@flowengine-test-am", h.flows.by_id["outbound"])
        af = await h.wait_ended(timeout=60)
        live = service.recent[-1]
        assert live.record.ended_reason == "voicemail"
        assert af.ended_reason == "ai_talk ended the flow: voicemail"
        assert h.service.services.hangup_reasons[af.reference_id] == "amd"
        verdict = live.rules.verdict if live.rules is not None else None
        assert verdict is not None and verdict.answer == "machine" and verdict.beep is not None
        assert abs(verdict.beep.frequency_hz - 1000) < 20
        said = [(m.role, m.content) for m in service.messages[live.record.id] if m.role in ("user", "assistant")]
        assert said == [("assistant", MESSAGE)]  # no greeting to the machine, only the message
        await eventually(lambda: asterisk.channels() == [], timeout=20, what="all channels gone")
        recorded = spool / "recording" / f"am-{name}-rx.wav"
        await eventually(recorded.exists, what="the machine's recording")
        heard = loud_frames(recorded)
        assert heard.size * 0.02 > 2.0, "the machine recorded the message"
        first = float(heard[0])
        # The machine heard nothing from us during its greeting; the message started after its beep
        # ended (the 0.3 s allows for the recording's start against the playback's), and soon after.
        assert beep_end_s - 0.3 <= first <= beep_end_s + 3.0, (first, beep_end_s)

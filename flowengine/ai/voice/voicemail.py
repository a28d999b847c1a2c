"""Voicemail detection on outbound AI calls: person or answering machine, and when the machine's beep has passed.

Two classifiers (AI `voicemail_detection.provider`):
- `audio`, flowengine's own, from the call's audio as the media engine delivers it (20 ms frames and
  VAD events, stream time): a greeting longer than `speech_threshold_ms` is a machine; a shorter one
  followed by `speech_end_threshold_ms` of silence is a person ("Hello?" then waiting); no speech
  within `silence_timeout_ms` is unknown (treated as a person). A beep (flowengine.ai.voice.beep) at any
  time is a machine.
- `asterisk`, Asterisk's AMD() on a snoop of the call (settings in asterisk-conf/amd.conf): MACHINE,
  HUMAN, or NOTSURE (unknown). The audio still goes through the beep detector meanwhile.
Once a machine is found, the message is left when its beep ends; a machine that never beeps gets it
after `max(speech_end_threshold_ms, 2000)` ms of silence after its greeting ("machine_end_silence"),
or at `beep_max_wait_s` at the latest."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from flowengine.ai.voice.beep import Beep, BeepDetector
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisStart
from flowengine.asterisk.ari.rest import AriError, quietly
from flowengine.media.frames import AudioFrame, MediaInbox
from flowengine.media.vad import SpeechEnded, SpeechStarted
from flowengine.store.aifeatures import VoicemailDetection
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

AMD_CONTEXT = "flowengine-services"  # dialplan/extensions.conf: exten amd runs AMD() and comes back
Answer = Literal["human", "machine", "unknown"]


@dataclass(frozen=True)
class Verdict:
    answer: Answer
    how: str  # "long greeting", "beep", "short greeting", "no speech", "amd: MACHINE (LONGGREETING-...)"
    at_ms: int  # stream time of the decision
    beep: Beep | None = None
    ready_ms: int = 0  # machine: stream time its beep ended (or its greeting fell silent)


class AudioClassifier:
    """Pure state over frames and VAD events (no I/O): `feed` returns a Verdict once there is one."""

    def __init__(self, settings: VoicemailDetection) -> None:
        self.settings = settings
        self.beeps = BeepDetector()
        self.first_speech: int | None = None
        self.in_speech = False
        self.last_speech_end = 0
        self.now = 0
        self.answer: Answer | None = None  # set once classified, from outside too (AMD)
        self.how = ""
        self.beep: Beep | None = None

    def feed(self, item: object, decide: bool = True) -> Verdict | None:
        """`decide=False`: someone else (AMD) classifies; only a beep decides here meanwhile."""
        s = self.settings
        if isinstance(item, AudioFrame):
            self.now = item.t_ms + 20
            beep = self.beeps.push(item.pcm, item.t_ms)
            if beep is not None:
                self.beep = beep
                log.info("beep of %.0f Hz, %d ms, ended at %d ms", beep.frequency_hz, beep.duration_ms, beep.end_ms)
                if self.answer is None:
                    self.answer, self.how = "machine", "beep"
                return Verdict("machine", self.how, self.now, beep, beep.end_ms)
        elif isinstance(item, SpeechStarted):
            self.in_speech = True
            if self.first_speech is None:
                self.first_speech = item.start_ms
        elif isinstance(item, SpeechEnded):
            self.in_speech = False
            self.last_speech_end = item.end_ms
        if self.answer == "machine":
            quiet = self.now - self.last_speech_end
            if not self.in_speech and self.last_speech_end and quiet >= max(s.speech_end_threshold_ms, 2000):
                return Verdict("machine", self.how + ", then silence", self.now, None, self.now)
            return None
        if self.answer is not None or not decide:
            return None
        if self.first_speech is None:
            if self.now >= s.silence_timeout_ms:
                self.answer, self.how = "unknown", "no speech"
        else:
            greeting = (self.now if self.in_speech else self.last_speech_end) - self.first_speech
            if greeting >= s.speech_threshold_ms:
                self.answer, self.how = "machine", f"greeting of {greeting} ms or more"
            elif not self.in_speech and self.now - self.last_speech_end >= s.speech_end_threshold_ms:
                self.answer, self.how = "human", f"greeting of {greeting} ms, then silence"
        if self.answer is None and self.now >= s.machine_detection_timeout_s * 1000:
            self.answer, self.how = "unknown", "undecided at the detection timeout"
        if self.answer is not None and self.answer != "machine":
            return Verdict(self.answer, self.how, self.now)
        return None


async def asterisk_amd(ari: AriClient, call: Call, timeout_s: float) -> tuple[Answer, str]:
    """Asterisk's AMD() on a snoop of the call (as the `amd` action runs it)."""
    snoop = await call.until_hangup(call.channel.snoop(spy="in", app_args="amd"))
    queue = ari.events(snoop.id)
    try:
        await snoop.continue_in_dialplan(AMD_CONTEXT, "amd", 1)
        await queue.wait_for(StasisStart, timeout=timeout_s)
        status = await snoop.get_var("AMDSTATUS") or "NOTSURE"
        cause = await snoop.get_var("AMDCAUSE") or ""
    except (AriError, TimeoutError) as exc:
        status, cause = "NOTSURE", f"amd did not finish: {exc}"
    finally:
        queue.close()
        await quietly(snoop.hangup())
    answer: Answer = {"MACHINE": "machine", "HUMAN": "human"}.get(status, "unknown")  # type: ignore[assignment]
    return answer, f"amd: {status} ({cause})"


async def _amd_verdict(ari: AriClient, call: Call, timeout_s: float) -> tuple[Answer, str]:
    """Asterisk's AMD, where a failure (e.g. the call ended under AMD) decides "unknown"."""
    try:
        return await asterisk_amd(ari, call, timeout_s)
    except Exception as exc:  # noqa: BLE001
        return "unknown", f"amd failed: {exc!r}"


async def screen(inbox: MediaInbox, settings: VoicemailDetection, *, ari: AriClient | None = None,
                 call: Call | None = None) -> Verdict:
    """Classify the answer; for a machine, return once its beep passed (Verdict.ready_ms). Reads `inbox`
    until then; raises EOFError if the media ends first (hangup)."""
    classifier = AudioClassifier(settings)
    amd: asyncio.Task[tuple[Answer, str]] | None = None
    async with TaskOwner("voicemail screening") as tasks:  # AMD runs beside the audio, and ends with the screening
        if settings.provider == "asterisk":
            if ari is None or call is None:
                raise ValueError("voicemail_detection provider 'asterisk' needs the call on Asterisk")
            amd = tasks.start(_amd_verdict(ari, call, settings.machine_detection_timeout_s), name="amd")
        machine_since: int | None = None
        while True:
            item = await inbox.get()
            if amd is not None and classifier.answer is None and amd.done():
                answer, how = amd.result()
                if answer != "machine":
                    return Verdict(answer, how, classifier.now)
                classifier.answer, classifier.how = answer, how
            verdict = classifier.feed(item, decide=amd is None)
            if verdict is not None:
                return verdict
            if classifier.answer == "machine":
                machine_since = classifier.now if machine_since is None else machine_since
                if classifier.now - machine_since >= settings.beep_max_wait_s * 1000:
                    return Verdict("machine", classifier.how + ", no beep", classifier.now, None, classifier.now)

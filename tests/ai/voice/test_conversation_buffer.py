"""The caller audio a conversation keeps: a few seconds between utterances, a whole utterance while it lasts."""
from __future__ import annotations

import numpy as np

from flowengine.ai.voice.conversation import IDLE_BUFFER_MS
from flowengine.ai.voice.recognition import PREROLL_MS
from flowengine.providers.stt.base import Transcript
from tests.ai.fakes import ScriptedLLM, ScriptedSTT
from tests.ai.voice.test_streaming_recognition import Rig, said
from tests.support import eventually


class RecordingSTT(ScriptedSTT):
    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts, delay=0.0)
        self.heard: list[tuple[int, int]] = []  # (stream time of the first frame, ms) of each utterance asked

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        self.heard.append((int(pcm[0]), pcm.size // 16))
        return await super().transcribe(pcm, language=language)


async def test_between_utterances_only_the_idle_buffer_is_kept_and_a_long_utterance_is_heard_whole() -> None:
    stt = RecordingSTT(["I would like to hear about every option you have"])
    rig = Rig(stt, ScriptedLLM(["Sure."]))
    await rig.silence(IDLE_BUFFER_MS + 3000)
    await eventually(lambda: len(rig.inbox) == 0, 5)
    assert len(rig.conv._frames) == IDLE_BUFFER_MS // 20  # frames are objects the collector scans: few kept
    start, end = await rig.speak(IDLE_BUFFER_MS + 2000)  # longer than the idle buffer
    await rig.end(start, end)
    await eventually(lambda: said(rig.conv, "assistant") == ["Sure."], 5)
    first, ms = stt.heard[-1]
    assert first == start - PREROLL_MS  # the pre-roll and ...
    assert ms >= end - first  # ... the whole utterance went to the recogniser
    await rig.silence(400)
    await eventually(lambda: len(rig.inbox) == 0, 5)
    assert len(rig.conv._frames) == IDLE_BUFFER_MS // 20  # trimmed again once it ended
    await rig.stop()

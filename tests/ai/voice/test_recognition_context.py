"""The live conversation tells its recogniser what the agent's last question expects."""
from __future__ import annotations

import asyncio

import numpy as np

from flowengine.providers.stt.base import STTContext, Transcript
from tests.ai.fakes import ScriptedLLM, ScriptedSTT
from tests.ai.voice.test_conversation import Rig, run_rig, settle, stop


class ContextSTT(ScriptedSTT):
    """Records the context each utterance is transcribed in."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.contexts: list[STTContext] = []

    async def transcribe_in_context(self, pcm: np.ndarray, context: STTContext, *, language: str = "") -> Transcript:
        self.contexts.append(context)
        return await self.transcribe(pcm, language=language)


async def test_each_utterance_is_heard_in_the_context_of_the_question_before_it() -> None:
    stt = ContextSTT(["I would like an appointment", "Next Tuesday please"])
    rig = Rig(stt, ScriptedLLM(["Sure. Which day suits you?", "And what time on Tuesday?"]))
    tasks = await run_rig(rig)
    for _ in range(2):
        await rig.speak(800)
        await asyncio.sleep(0.2)
        await settle(rig)
    await stop(rig, tasks)
    assert [c.expect for c in stt.contexts] == ["open", "day"]
    assert stt.contexts[1].question == "Sure. Which day suits you?"

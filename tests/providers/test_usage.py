"""Metered providers pass everything on: the context of a closed question reaches the recogniser it wraps."""
from __future__ import annotations

import numpy as np

from flowengine.providers.llm.rules import RulesLLM
from flowengine.providers.stt.base import STTContext, STTProvider, Transcript
from flowengine.providers.usage import UsageMeter


class ContextEcho(STTProvider):
    """Says which way it was asked: plainly, or in a context (then the kind of answer expected)."""

    name = "echo"

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        return Transcript("plain")

    async def transcribe_in_context(self, pcm: np.ndarray, context: STTContext, *, language: str = "") -> Transcript:
        return Transcript(f"in context: {context.expect}")


async def test_a_metered_recogniser_is_given_the_context_and_counts_it() -> None:
    meter = UsageMeter()
    stt = meter.stt(ContextEcho())
    pcm = np.zeros(16000, dtype=np.int16)
    assert (await stt.transcribe_in_context(pcm, STTContext("day"))).text == "in context: day"
    assert (await stt.transcribe(pcm)).text == "plain"
    assert meter.report.stt.requests == 2 and meter.report.stt.seconds == 2.0


def test_a_metered_dialog_still_offers_its_requests_to_the_recogniser() -> None:
    rules = RulesLLM(model="appointments")
    metered = UsageMeter().llm(rules)
    assert metered.request_phrases() == rules.request_phrases() != ()

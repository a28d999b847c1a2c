"""The call rules' watch on a scripted conversation: silence prompt, silence timeout, maximum duration."""
from __future__ import annotations

import asyncio

from flowengine.ai import endreasons as er
from flowengine.ai.voice.callrules import SILENCE_PROMPT, CallRules
from flowengine.ai.voice.conversation import ConversationSettings
from tests.ai.fakes import ScriptedLLM, ScriptedSTT
from tests.ai.voice.test_conversation import Rig, run_rig


def said(rig: Rig) -> list[str]:
    return [m.content for m in rig.conv.messages if m.role == "assistant"]


async def test_silence_is_prompted_once_then_ends_the_call() -> None:
    rig = Rig(ScriptedSTT([]), ScriptedLLM([]), ConversationSettings(speak_first=True, first_message="Hello."))
    rules = CallRules(silence_timeout_s=0.3)
    talk, drain = await run_rig(rig)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(rules._watch(rig.conv), 5)
    elapsed = loop.time() - started
    assert await asyncio.wait_for(talk, 5) == er.SILENCE_TIMED_OUT and rules.hard_end
    drain.cancel()
    assert said(rig) == ["Hello.", SILENCE_PROMPT]
    # "Hello." (100 ms), 300 ms of silence, the prompt (400 ms), 300 ms of silence: the silence counts
    # from the end of each utterance's playout
    assert 1.0 <= elapsed < 1.5


async def test_the_caller_speaking_takes_the_prompt_back() -> None:
    rig = Rig(ScriptedSTT(["I am here"]), ScriptedLLM(["Good."]), ConversationSettings(speak_first=True,
                                                                                       first_message="Hello."))
    rules = CallRules(silence_timeout_s=0.3)
    talk, drain = await run_rig(rig)
    watch = asyncio.ensure_future(rules._watch(rig.conv))

    async def prompted() -> None:
        while said(rig)[-1:] != [SILENCE_PROMPT]:
            await rig.conv.wait_change()

    await asyncio.wait_for(prompted(), 5)
    await rig.conv.wait_idle()
    await rig.speak(600)
    await asyncio.wait_for(watch, 5)
    assert await asyncio.wait_for(talk, 5) == er.SILENCE_TIMED_OUT
    drain.cancel()
    assert said(rig) == ["Hello.", SILENCE_PROMPT, "Good.", SILENCE_PROMPT]


async def test_the_maximum_duration_cuts_the_agent() -> None:
    long_opening = "Welcome to the office " * 10
    rig = Rig(ScriptedSTT([]), ScriptedLLM([]), ConversationSettings(speak_first=True, first_message=long_opening))
    rules = CallRules(max_duration_s=0.5)
    talk, drain = await run_rig(rig)
    await asyncio.wait_for(rules._watch(rig.conv), 5)
    assert await asyncio.wait_for(talk, 5) == er.EXCEEDED_MAX_DURATION and rules.hard_end
    drain.cancel()
    opening = said(rig)[0]
    assert opening.endswith("...") and len(opening) < len(long_opening)  # what was heard before the cut
    assert rig.out.cleared and rig.out.queued_ms == 0

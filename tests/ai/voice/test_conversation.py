"""The conversation loop on scripted speech: turns, barge-in, backchannels, smart turn-taking."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from flowengine.ai.voice.conversation import SPECULATION_WAIT_MS, Conversation, ConversationSettings
from flowengine.media.frames import AudioFrame, MediaInbox
from flowengine.media.vad import SpeechEnded, SpeechResumed, SpeechStarted, SpeechStopping
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMError,
    LLMEvent,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
)
from flowengine.providers.stt.base import STTError, Transcript
from tests.ai.fakes import FakeOutput, ScriptedLLM, ScriptedSTT, ToneTTS


class Rig:
    def __init__(self, stt: ScriptedSTT, llm: ScriptedLLM, settings: ConversationSettings | None = None) -> None:
        self.inbox = MediaInbox()
        self.out = FakeOutput()
        self.stt, self.llm = stt, llm
        self.conv = Conversation(
            inbox=self.inbox, output=self.out, stt=stt, llm=llm, tts=ToneTTS(),
            messages=[ChatMessage("system", "You book appointments.")],
            settings=settings or ConversationSettings(smart_turn=False))  # every pause a turn, unless a test says
        self.t = 0

    async def voice(self, ms: int, start: int) -> None:
        """`ms` of caller voice; the VAD calls it speech 200 ms after `start`."""
        for _ in range(ms // 20):
            self.inbox.put(AudioFrame(np.zeros(320, dtype=np.int16), self.t))
            self.t += 20
            if self.t - start == 200:
                self.inbox.put(SpeechStarted(self.t, start))
            await asyncio.sleep(0)

    async def speak(self, ms: int, *, stop_gap: int = 200) -> None:
        """Caller speech of `ms`, then silence until the VAD ends the turn."""
        start = self.t
        await self.voice(ms, start)
        end = self.t
        self.inbox.put(SpeechStopping(self.t, end))
        await asyncio.sleep(stop_gap / 1000)
        self.t += stop_gap
        self.inbox.put(SpeechEnded(self.t, start, end))
        await asyncio.sleep(0.01)
        self.stt.consume()


async def run_rig(rig: Rig) -> tuple[asyncio.Task[str], asyncio.Task[None]]:
    return asyncio.ensure_future(rig.conv.run()), asyncio.ensure_future(rig.out.drain())


async def settle(rig: Rig) -> None:
    await asyncio.wait_for(rig.conv.wait_idle(), 5)


async def stop(rig: Rig, tasks: tuple[asyncio.Task[str], asyncio.Task[None]]) -> None:
    rig.conv.end("test over")
    await asyncio.wait_for(tasks[0], 5)
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)


async def test_a_turn_is_answered_and_recorded() -> None:
    rig = Rig(ScriptedSTT(["I would like an appointment"]), ScriptedLLM(["Sure. Which day suits you?"]))
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(0.2)
    await settle(rig)
    await stop(rig, tasks)
    roles = [(m.role, m.content) for m in rig.conv.messages[1:]]
    assert roles == [("user", "I would like an appointment"), ("assistant", "Sure. Which day suits you?")]
    assert rig.stt.calls == 1  # the speculative transcription was used, not a second one
    turn = rig.conv.turns[0]
    assert turn.endpointing_ms == 200 and turn.llm_first_token_ms is not None and turn.engine_ms is not None
    assert turn.engine_ms < 200  # loose: this is a correctness check, the bench measures speed


async def test_speaking_first_with_a_fixed_opening() -> None:
    rig = Rig(ScriptedSTT([]), ScriptedLLM([]), ConversationSettings(speak_first=True, first_message="Hello, dental office."))
    tasks = await run_rig(rig)
    await asyncio.sleep(0.1)
    await settle(rig)
    await stop(rig, tasks)
    assert [(m.role, m.content) for m in rig.conv.messages[1:]] == [("assistant", "Hello, dental office.")]
    assert rig.llm.requests == []


async def test_barge_in_stops_the_agent_and_keeps_only_what_was_heard() -> None:
    long_reply = "We are open " + "every single day of the week " * 6 + "until late."
    rig = Rig(ScriptedSTT(["Tell me your hours", "Wait stop I need Tuesday"]), ScriptedLLM([long_reply, "Tuesday it is."]))
    tasks = await run_rig(rig)
    await rig.speak(600)
    await asyncio.wait_for(rig.out.sent(600), 5)  # the agent has been talking for a while
    reply = rig.conv.speech
    assert reply is not None and not reply.done()
    await rig.speak(700)
    assert rig.conv.interruptions == 1 and rig.out.cleared and rig.out.cleared[0] > 0
    assert reply.done() and reply.interrupted
    await asyncio.sleep(0.3)
    await settle(rig)
    await stop(rig, tasks)
    assistant = [m.content for m in rig.conv.messages if m.role == "assistant"]
    assert assistant[0].endswith("...") and len(assistant[0]) < len(long_reply)  # cut where the caller stopped it
    assert reply.heard_text == assistant[0] and reply.text == long_reply
    assert assistant[1] == "Tuesday it is."
    assert rig.conv.barge_in_stop_ms[0] <= 60


async def test_the_turn_ends_in_the_tick_that_sends_its_last_frame() -> None:
    rig = Rig(ScriptedSTT([]), ScriptedLLM([]), ConversationSettings(speak_first=True, first_message="Hello, dental office."))
    messages: list[str] = []

    async def on_message(message: ChatMessage, extra: dict[str, object]) -> None:
        messages.append(message.content)

    rig.conv.on_message = on_message
    talk = asyncio.ensure_future(rig.conv.run())  # no drain task: this test is the media clock
    for _ in range(10):
        await asyncio.sleep(0)
    opening = rig.conv.speech
    assert opening is not None and rig.out.queued_ms == 300 and rig.out.waiters
    for _ in range(14):
        rig.out.tick()
    for _ in range(10):
        await asyncio.sleep(0)
    assert not opening.done() and messages == []
    rig.out.tick()  # the last frame; no time passes from here: a 20 ms poll would not see it
    for _ in range(5):
        await asyncio.sleep(0)
    assert opening.done() and messages == ["Hello, dental office."] and not rig.conv.speaking
    rig.conv.end("test over")
    assert await asyncio.wait_for(talk, 5) == "test over"


async def test_a_backchannel_does_not_interrupt() -> None:
    reply = "Let me check the calendar for you " * 4
    rig = Rig(ScriptedSTT(["What is free on Monday", "mm-hm"]), ScriptedLLM([reply]))
    tasks = await run_rig(rig)
    await rig.speak(600)
    await asyncio.wait_for(rig.out.sent(300), 5)
    await rig.speak(200)  # a short "mm-hm"
    assert rig.conv.interruptions == 0 and rig.conv.false_interruptions == 1 and not rig.out.paused
    await settle(rig)
    await stop(rig, tasks)
    assert [m.content for m in rig.conv.messages if m.role == "assistant"] == [reply.strip()]


SMART = ConversationSettings(smart_turn=True)


async def test_smart_turn_waits_for_the_rest_of_a_phone_number() -> None:
    # the continuation is heard together with the held part (the recogniser gets the audio from the first word)
    rig = Rig(ScriptedSTT(["my number is five five five", "my number is five five five one two three four"]),
              ScriptedLLM(["Thanks."]), SMART)
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(0.3)
    assert rig.llm.requests == [] and rig.conv.caller_speaking  # held: the number is not finished
    assert rig.conv.say("Are you still there?") is None  # nothing is said into the caller's held pause
    await rig.speak(800)
    await asyncio.sleep(0.8)  # a whole number, not asked for: a plain sentence's wait
    await settle(rig)
    await stop(rig, tasks)
    users = [m.content for m in rig.conv.messages if m.role == "user"]
    assert users == ["my number is five five five one two three four"]  # one turn, one message
    first, whole = rig.stt.audio_ms[0], rig.stt.audio_ms[-1]
    assert whole >= first + 800  # the held part and the continuation, heard again in one piece
    assert len(rig.llm.requests) == 1 and [m.content for m in rig.conv.messages if m.role == "assistant"] == ["Thanks."]


async def test_a_held_turn_is_answered_when_nothing_more_comes() -> None:
    rig = Rig(ScriptedSTT(["I would like to come on"]), ScriptedLLM(["Which day?"]), SMART)
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(0.6)
    assert rig.llm.requests == []  # "on ...": the unfinished wait is 1.2 s
    await asyncio.sleep(1.0)
    await settle(rig)
    await stop(rig, tasks)
    assert [m.content for m in rig.conv.messages if m.role == "user"] == ["I would like to come on"]
    assert rig.conv.turns[0].endpointing_ms == 200 + 1200


async def test_a_held_turn_waits_out_voice_the_vad_has_not_yet_called_speech() -> None:
    # "I would like to come on" is held 1.2 s; when that runs out the caller's voice has just begun (the VAD is
    # `starting`, 0.2 s before it says speech): the answer waits, and the speech's start makes it one turn
    starting = [False]
    rig = Rig(ScriptedSTT(["I would like to come on", "I would like to come on Tuesday"]),
              ScriptedLLM(["Tuesday it is."]), SMART)
    rig.conv.speech_onset = lambda: starting[0]
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(1.1)
    starting[0] = True  # the caller's voice again, 100 ms before the wait runs out
    await asyncio.sleep(0.25)
    assert rig.llm.requests == []  # the wait ran out, the held answer waits for the VAD
    starting[0] = False
    await rig.speak(600)  # its start cancels the held answer: one turn
    await asyncio.sleep(0.8)
    await settle(rig)
    await stop(rig, tasks)
    assert [m.content for m in rig.conv.messages if m.role == "user"] == ["I would like to come on Tuesday"]


async def test_a_click_that_never_becomes_speech_delays_a_held_answer_a_bounded_time() -> None:
    rig = Rig(ScriptedSTT(["I would like to come on"]), ScriptedLLM(["Which day?"]), SMART)
    rig.conv.speech_onset = lambda: True  # the VAD stuck in `starting`: the grace is bounded
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(1.2 + 0.4 + 0.3)
    await settle(rig)
    await stop(rig, tasks)
    assert [m.content for m in rig.conv.messages if m.role == "user"] == ["I would like to come on"]


async def test_a_held_turn_followed_by_a_sound_without_words_is_still_answered_once() -> None:
    rig = Rig(ScriptedSTT(["my name is", ""]), ScriptedLLM(["Sorry, your name?"]), SMART)
    tasks = await run_rig(rig)
    await rig.speak(600)
    await asyncio.sleep(0.2)
    await rig.speak(300)  # a cough: the hold starts again, and then the turn is answered
    await asyncio.sleep(1.6)
    await settle(rig)
    await stop(rig, tasks)
    assert [m.content for m in rig.conv.messages if m.role == "user"] == ["my name is"]
    assert len(rig.llm.requests) == 1


async def test_a_complete_answer_to_the_question_asked_is_answered_at_once() -> None:
    rig = Rig(ScriptedSTT(["Next Tuesday please."]), ScriptedLLM(["And at what time?"]),
              ConversationSettings(smart_turn=True, speak_first=True, first_message="Which day would you like?"))
    tasks = await run_rig(rig)
    await asyncio.sleep(0.05)
    await settle(rig)  # the agent asked for a day
    await rig.speak(700)
    await asyncio.sleep(0.1)
    assert len(rig.llm.requests) == 1  # no extra wait: a day was asked and given
    await settle(rig)
    await stop(rig, tasks)
    assert rig.conv.turns[0].endpointing_ms == 200


async def test_keys_after_a_held_turn_complete_it_and_a_pause_forgets_it() -> None:
    rig = Rig(ScriptedSTT(["my number is five five five", "my name is"]), ScriptedLLM(["Thanks.", "Welcome back."]),
              SMART)
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(0.1)
    await rig.conv.send_user_text("1234")  # DTMF where digits were being read out
    await settle(rig)
    assert [m.content for m in rig.conv.messages if m.role == "user"] == ["my number is five five five 1234"]
    await rig.speak(600)  # "my name is" ... held
    await asyncio.sleep(0.1)
    assert rig.conv.caller_speaking
    await rig.conv.pause()
    assert not rig.conv.caller_speaking and not rig.conv.judge.holding  # forgotten, never answered
    rig.conv.resume()
    await asyncio.sleep(1.4)
    await stop(rig, tasks)
    assert len(rig.llm.requests) == 1


async def test_an_answer_the_caller_talks_over_before_its_first_word_is_withdrawn() -> None:
    slow = ScriptedLLM(["Sure thing, which day would suit you best?", "Tuesday at ten it is."], word_delay=0.3)
    rig = Rig(ScriptedSTT(["I would like to book an appointment.", "on Tuesday at ten"]), slow, SMART)
    stored: list[tuple[str, str]] = []

    async def on_message(message: ChatMessage, extra: dict[str, object]) -> None:
        stored.append((message.role, message.content))

    rig.conv.on_message = on_message
    tasks = await run_rig(rig)
    await rig.speak(800)
    await asyncio.sleep(0.7)  # a plain sentence's 0.5 s passed: the turn went to the model...
    assert len(slow.requests) == 1 and rig.out.sent_ms == 0 and stored == []  # ...and nothing sounds yet
    await rig.speak(800)  # the caller goes on
    await asyncio.sleep(0.7)  # the whole turn is a plain sentence too
    await settle(rig)
    await stop(rig, tasks)
    whole = "I would like to book an appointment. on Tuesday at ten"
    assert stored == [("user", whole), ("assistant", "Tuesday at ten it is.")]  # one turn, one answer
    assert [(m.role, m.content) for m in rig.conv.messages[1:]] == stored
    assert rig.conv.withdrawn_answers == 1 and rig.conv.interruptions == 0 and len(rig.conv.turns) == 1
    assert [m.content for m in slow.requests[1] if m.role == "user"] == [whole]


async def test_backchannels_of_any_length_never_cancel_the_reply_and_other_words_do() -> None:
    reply = "Let me check the calendar for you " * 6
    rig = Rig(ScriptedSTT(["What is free on Monday", "Okay, yeah, right, uh huh, mm-hm.", "No wait."]),
              ScriptedLLM([reply, "Yes?"]))
    tasks = await run_rig(rig)
    await rig.speak(600)
    await asyncio.wait_for(rig.out.sent(300), 5)
    speech = rig.conv.speech
    await rig.speak(1400)  # long, but only backchannels
    assert rig.conv.interruptions == 0 and rig.conv.false_interruptions == 1 and not rig.out.paused
    assert speech is not None and not speech.done()
    await asyncio.wait_for(rig.out.sent(300), 5)
    await rig.speak(300)  # short, but real words
    assert rig.conv.interruptions == 1 and speech.done() and speech.interrupted
    assert rig.conv.barge_in_stop_ms[-1] <= 60
    await asyncio.sleep(0.3)
    await settle(rig)
    await stop(rig, tasks)
    assert [m.content for m in rig.conv.messages if m.role == "user"] == ["What is free on Monday", "No wait."]


class BookingLLM(ScriptedLLM):
    """Answers the first turn with a long confirmation and the booking tool call (as the rules engine does)."""

    async def stream(self, messages: list[ChatMessage], *, tools: list[ToolSpec] | None = None,
                     temperature: float | None = None, max_tokens: int | None = None) -> AsyncIterator[LLMEvent]:
        first = not self.requests
        async for event in super().stream(messages, tools=tools, temperature=temperature, max_tokens=max_tokens):
            yield event
        if first:
            yield ToolCallRequest(ToolCall("call-1", "set_variables", '{"variables": {"appointment_day": "Friday"}}'))


async def test_a_reply_cut_by_the_caller_still_runs_the_tools_it_asked_for() -> None:
    # a real call: "Yes, | that's right." ended its turn at "Yes", the agent began "You are booked...", and "that's
    # right" barged in: the booking the model had asked for was in the history but never made
    ran: list[str] = []

    async def on_tool(call: ToolCall) -> tuple[str, str | None]:
        ran.append(call.name)
        return '{"result": "ok"}', None

    booked = "You are booked for Friday at 3 in the afternoon. " * 4 + "We will see you then."
    rig = Rig(ScriptedSTT(["Yes", "that is not right"]), BookingLLM([booked, "Sorry?"]))
    rig.conv.on_tool = on_tool
    tasks = await run_rig(rig)
    await rig.speak(400)
    await asyncio.wait_for(rig.out.sent(300), 5)
    await rig.speak(600)  # real words: a barge-in
    assert rig.conv.interruptions == 1
    await asyncio.sleep(0.3)
    await settle(rig)
    await stop(rig, tasks)
    assert ran == ["set_variables"]
    roles = [(m.role, bool(m.tool_calls)) for m in rig.conv.messages[1:]]
    assert roles[:3] == [("user", False), ("assistant", True), ("tool", False)]  # every call followed by its result
    assert rig.conv.messages[2].content.endswith("...")  # what the caller heard of it


class FailingLLM(ScriptedLLM):
    """A model whose provider gave up (its own retries exhausted)."""

    name = "openai"

    async def stream(self, messages: list[ChatMessage], *, tools: object = None, temperature: float | None = None,
                     max_tokens: int | None = None) -> AsyncIterator[TextDelta]:
        self.requests.append(list(messages))
        raise LLMError("openai model 'gpt-4o': 503 after 3 attempts")
        yield TextDelta("")  # pragma: no cover (makes this an async generator)


class FailingSTT(ScriptedSTT):
    name = "whisper"

    async def transcribe(self, pcm: np.ndarray, *, language: str = "") -> Transcript:
        raise STTError("model file unreadable")


async def test_a_failed_model_is_apologised_for_and_ends_with_a_pipeline_error() -> None:
    rig = Rig(ScriptedSTT(["hello"]), FailingLLM([]))
    tasks = await run_rig(rig)
    await rig.speak(800)
    reason = await asyncio.wait_for(tasks[0], 5)
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    assert reason == "pipeline-error-openai-llm-failed"
    assert rig.conv.provider_failures == 1 and len(rig.llm.requests) == 1
    said = [m.content for m in rig.conv.messages if m.role == "assistant"]
    assert said == [ConversationSettings().apology]
    assert rig.out.sent_ms > 0  # the apology went out on the line, not only into the transcript


async def test_a_failed_transcriber_ends_with_vapis_closest_reason() -> None:
    rig = Rig(FailingSTT([]), ScriptedLLM(["never said"]), ConversationSettings(apology=""))
    tasks = await run_rig(rig)
    await rig.speak(800)
    reason = await asyncio.wait_for(tasks[0], 5)
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    assert reason == "assistant-error"  # Vapi documents no whisper reason
    assert rig.llm.requests == [] and [m for m in rig.conv.messages if m.role == "assistant"] == []


class BusySTT(ScriptedSTT):
    """A recogniser that says it is busy with other calls' utterances (or not), and counts what it was asked."""

    def __init__(self, texts: list[str], *, busy: bool) -> None:
        super().__init__(texts, delay=0.01)
        self._busy = busy

    def busy(self) -> bool:
        return self._busy


async def speak_with_a_dip(rig: Rig, *, stop_gap: int = 200) -> None:
    """Caller speech whose voice dips for 40 ms mid-line (the VAD's first silent frames, then the voice again)."""
    start = rig.t
    for part in (600, 400):
        await rig.voice(part, start)
        rig.inbox.put(SpeechStopping(rig.t, rig.t))
        if part == 600:
            await asyncio.sleep(0.04)
            rig.t += 40
            rig.inbox.put(SpeechResumed(rig.t))
    end = rig.t
    await asyncio.sleep(stop_gap / 1000)
    rig.t += stop_gap
    rig.inbox.put(SpeechEnded(rig.t, start, end))
    await asyncio.sleep(0.01)
    rig.stt.consume()


async def test_a_busy_recogniser_is_not_asked_about_a_dip_the_caller_speaks_through() -> None:
    busy = Rig(BusySTT(["Next Tuesday please"], busy=True), ScriptedLLM(["At what time?"]))
    tasks = await run_rig(busy)
    await speak_with_a_dip(busy)
    await settle(busy)
    await stop(busy, tasks)
    assert busy.stt.calls == 1  # only the line's end: the dip's speculative transcription waited, then was dropped
    assert [m.content for m in busy.conv.messages[1:]] == ["Next Tuesday please", "At what time?"]

    idle = Rig(BusySTT(["Next Tuesday please"], busy=False), ScriptedLLM(["At what time?"]))
    tasks = await run_rig(idle)
    await speak_with_a_dip(idle)
    await settle(idle)
    await stop(idle, tasks)
    assert idle.stt.calls == 2  # an idle recogniser starts at the first silent frame: one call loses nothing


async def test_the_end_of_the_turn_cuts_the_speculative_wait_short() -> None:
    # (twice: the rig moves its script on 10 ms after the end of the turn, before this transcription reads it)
    rig = Rig(BusySTT(["Next Tuesday please"] * 2, busy=True), ScriptedLLM(["At what time?"]))
    tasks = await run_rig(rig)
    await rig.speak(800, stop_gap=20)  # a stop time shorter than the wait
    await asyncio.sleep(0.2)
    await settle(rig)
    await stop(rig, tasks)
    assert rig.stt.calls == 1
    assert rig.conv.messages[1].content == "Next Tuesday please"
    # started at the end of the turn (~10 ms left), not after the wait (which ends 60 ms after a 20 ms stop time)
    assert rig.conv.turns[0].stt_wait_ms < SPECULATION_WAIT_MS - 20

"""The conversation loop: caller turns (VAD -> STT) to replies (LLM -> sentences -> TTS -> paced playout)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from flowengine.ai.endreasons import pipeline_error
from flowengine.ai.voice.backchannel import is_backchannel
from flowengine.ai.voice.endpointing import TurnJudge, Verdict
from flowengine.ai.voice.expectation import expectation, last_question
from flowengine.ai.voice.metrics import TurnMetrics, turn_seconds
from flowengine.ai.voice.questions import asked
from flowengine.ai.voice.recognition import Recognition
from flowengine.ai.voice.sentences import SentenceSplitter
from flowengine.ai.voice.speech_handle import SpeechHandle, report_mark
from flowengine.media.frames import AudioFrame, MediaInbox
from flowengine.media.output import AudioOutput
from flowengine.media.pacer import ClearResult
from flowengine.media.vad import SpeechEnded, SpeechResumed, SpeechStarted, SpeechStopping
from flowengine.providers.llm.base import (
    ChatMessage,
    LLMError,
    LLMProvider,
    TextDelta,
    ToolCall,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from flowengine.providers.stt.base import STTError, STTProvider, Transcript
from flowengine.providers.tts.base import TTSError, TTSProvider
from flowengine.tasks import TaskOwner
from flowengine.telemetry import sink

log = logging.getLogger(__name__)

MAX_BUFFER_MS = 60_000  # of the caller's audio kept while an utterance lasts (the batch recogniser's input)
# ... and between utterances: the pre-roll before the VAD's speech start, which it reports start_secs late. Every
# kept frame is an object the garbage collector scans: 60 s per call made its full collections of a 200-call
# process take 30-70 ms, stalling every call's media (`bench capacity`).
IDLE_BUFFER_MS = 5_000
# A held turn's answer waits out voice the VAD has not yet called speech, this long at most (its start time is
# 0.2 s by default, plus the frames in flight)
ONSET_GRACE_MS = 400
# A speculative transcription (at the VAD's first silent frame) waits this long first when the recogniser is busy
# with other calls' utterances: the caller resumes within 20-60 ms of most such frames (measured with 25 calls:
# p50 40, p90 60 ms), and a transcription that started runs on for nobody, ~20 % of the recogniser's runs at 25
# calls. An idle recogniser starts at once (one call loses nothing); the end of the turn starts it in any case.
SPECULATION_WAIT_MS = 80

# What a tool call does to the conversation: None keeps going (with the result sent back to the
# model), otherwise the conversation ends with that reason.
ToolHandler = Callable[[ToolCall], Awaitable[tuple[str, str | None]]]
MessageSink = Callable[[ChatMessage, dict[str, object]], Awaitable[None]]


@dataclass
class ConversationSettings:
    speak_first: bool = False
    first_message: str = ""  # said as is when speaking first; else the model writes the opening
    language: str = ""
    keywords: tuple[str, ...] = ()  # words the recogniser should favour (names, products), when it takes them
    voice_id: str = ""
    smart_turn: bool = True  # wait for the end of a thought, not the first pause (see endpointing.TurnJudge)
    # Caller speech during agent speech pauses the agent at once; it goes on if the words were only a backchannel
    # ("mm-hm", "yeah", "okay": backchannel.py, whatever their length), or, when nothing was recognised, if the
    # sound was shorter than this; any other words interrupt it.
    min_interruption_ms: int = 400
    temperature: float | None = None
    max_tokens: int | None = None
    # said when a provider fails for good (after its own retries), before the AI call ends with
    # `pipeline-error-<provider>-<component>-failed`; "" ends without a word
    apology: str = "I am sorry, I have a technical problem and cannot go on. Please call again later."


@dataclass(frozen=True, slots=True)
class ProviderSpeechEnded(SpeechEnded):
    """A streaming recogniser's own end of speech, while the VAD still waits out its stop time: the earlier of
    the two ends the turn (queued in the inbox, so it is handled in order with the VAD's events)."""


@dataclass
class _Utterance:
    start_ms: int
    end_ms: int = 0
    stt: asyncio.Task[Transcript | STTError] | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # a speculative transcription waits no longer
    during_agent_speech: bool = False
    heard_from_ms: int | None = None  # a held turn's continuation: the recogniser hears from the held part's start


@dataclass
class Conversation:
    """One AI call's voice loop over its media: caller audio and VAD events from `inbox`, the agent's
    voice out through `output`. Each agent utterance is a `SpeechHandle`; `speech` is the latest."""

    inbox: MediaInbox
    output: AudioOutput
    stt: STTProvider
    llm: LLMProvider
    tts: TTSProvider
    messages: list[ChatMessage]
    settings: ConversationSettings = field(default_factory=ConversationSettings)
    tools: list[ToolSpec] = field(default_factory=list)
    on_tool: ToolHandler | None = None
    on_message: MessageSink | None = None
    after_tools: Callable[[], Awaitable[bool]] | None = None  # True: the model answers the tool results
    on_speech: Callable[[str, bool, str], None] | None = None  # (who: caller|agent, started, text)
    on_turn: Callable[[TurnMetrics, str, bool], None] | None = None  # (a kept caller turn, agent's words, cut)
    on_barge_in: Callable[[float], None] | None = None  # (ms of queued agent speech dropped)
    # True while the VAD hears voice it has not yet called speech (its start time): a held turn waits it out
    speech_onset: Callable[[], bool] | None = None
    # what takes over when the recogniser / the voice fails for good (None: the call ends with an apology)
    fallback_stt: STTProvider | None = None
    fallback_tts: TTSProvider | None = None
    apology_tts: TTSProvider | None = None  # the offline voice that apologises when the voice itself failed
    turns: list[TurnMetrics] = field(default_factory=list)
    ended_reason: str = ""

    def __post_init__(self) -> None:
        self._frames: deque[AudioFrame] = deque(maxlen=MAX_BUFFER_MS // 20)
        self._utterance: _Utterance | None = None
        self._reply: asyncio.Task[None] | None = None
        self._paused = False
        self._done = asyncio.Event()
        self._tasks = TaskOwner("conversation")
        self.speech: SpeechHandle | None = None
        self.output.on_mark = report_mark  # marks of sent audio tell each handle what was heard
        self.judge = TurnJudge(self.settings.smart_turn)
        self._pending_end: asyncio.Task[None] | None = None
        self._change = asyncio.Event()  # replaced at each change of who speaks (see `wait_change`)
        self.caller_utterances = 0
        self.interruptions = 0
        self.false_interruptions = 0
        self.provider_failures = 0
        self.barge_in_stop_ms: list[float] = []
        self.ears = Recognition(self.stt, self._frames, self._tasks, language=self.settings.language,
                                keywords=self.settings.keywords, fallback=self.fallback_stt,
                                on_end_of_speech=self._provider_end)
        self.ears.context = lambda: expectation(last_question(self.messages), hints=self.settings.keywords,
                                                requests=self.llm.request_phrases(),
                                                window=self.llm.time_window())
        self._own_voice = True  # False once another voice (fallback, apology) speaks: its default voice
        self.tts_fell_back = False
        self._cut_early = False  # the recogniser's end of speech ended the turn before the VAD did
        self.provider_turn_ends = 0  # turns ended by the recogniser's signal rather than the VAD's
        self.false_cuts = 0  # ... after which the caller went on within the VAD's stop time
        self._unsent: tuple[ChatMessage, TurnMetrics] | None = None  # the caller's turn, stored at the answer's first audio
        self._withdrawn: TurnMetrics | None = None  # the turn whose answer is being withdrawn
        self.withdrawn_answers = 0

    # -- control ------------------------------------------------------------------------------
    def end(self, reason: str) -> None:
        if not self.ended_reason:
            self.ended_reason = reason
        self._done.set()
        self.inbox.close()

    async def pause(self) -> None:
        """Neither listen nor speak: queued audio dropped, in-flight work cancelled, context kept."""
        self._paused = True
        self._stop_speech()
        await self._cancel_reply()
        self._drop_utterance()
        self._drop_held_turn()

    def resume(self, line: str = "") -> None:
        """Listen and speak again; `line` is said first (e.g. "Thanks for waiting.")."""
        self._paused = False
        self._frames.clear()
        if line:
            self._start_reply(TurnMetrics(index=0), say=line)

    @property
    def _voice_id(self) -> str:
        """The AI's voice (a team switch changes `settings.voice_id`), or "" once another voice took over."""
        return self.settings.voice_id if self._own_voice else ""

    @property
    def speaking(self) -> bool:
        return (self._reply is not None and not self._reply.done()) or self.output.queued_ms > 0

    @property
    def caller_speaking(self) -> bool:
        """The caller is in an utterance (or a held, unfinished turn): for the silence timeout."""
        return self._utterance is not None or self._pending_end is not None

    async def wait_change(self) -> None:
        """Returns at the next change of who is speaking: the caller starts or ends an utterance (or a
        held turn), or the agent starts or ends speaking. For the call rules' silence timeout."""
        await self._change.wait()

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    async def wait_idle(self) -> None:
        """Returns once the agent is not speaking: no reply in progress and nothing left to play."""
        while self.speaking:
            reply = self._reply
            if reply is not None and not reply.done():
                await asyncio.wait([reply])
            else:
                await self.output.wait_for_playout()

    def say(self, text: str) -> SpeechHandle | None:
        """The agent says `text` now unless it is speaking (a call rule's prompt); stored like any reply.
        Returns its handle, None when nothing is said."""
        if self.speaking or self._done.is_set() or self._pending_end is not None:
            return None  # never into the caller's held pause either
        return self._start_reply(TurnMetrics(index=0), say=text)

    async def say_line(self, text: str) -> SpeechHandle:
        """Queue a fixed line on the agent's voice outside any model turn (a tool's notice); it is not
        added to the model's context. It becomes `speech`: a barge-in interrupts it like a reply."""
        self.speech = handle = SpeechHandle(self.output)
        await handle.say(self.tts, text, voice_id=self._voice_id, language=self.settings.language)
        return handle

    async def cut(self) -> None:
        """Stop the agent mid-reply (a call rule ends the call): unsent audio is dropped and the stored
        message keeps what the caller heard."""
        self._stop_speech()
        self.output.resume()
        await self._cancel_reply()

    async def send_user_text(self, text: str) -> None:
        """A user message that is not speech (DTMF keys): answered at once, like a finished turn."""
        if self._done.is_set() or self._paused:
            return
        if self.speaking:
            await self._interrupt()
        if self._pending_end is not None:  # keys after a held, unfinished turn ("my number is ...") complete it
            self._pending_end.cancel()
            self._pending_end = None
        await self._commit_turn(TurnMetrics(index=len(self.turns) + 1, caller_text=self.judge.take(text)))

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> str:
        try:
            self.ears.start()
            if self.settings.speak_first:
                self._start_reply(TurnMetrics(index=0, caller_text=""), opening=True)
            async for item in self.inbox:
                if self._paused:
                    continue
                if isinstance(item, AudioFrame):
                    self._frames.append(item)
                    if self._utterance is None and self.judge.held_from_ms is None:  # a held turn's audio stays
                        while len(self._frames) > IDLE_BUFFER_MS // 20:  # bounded: the deque's maxlen
                            self._frames.popleft()
                    elif self.ears.streaming:
                        await self.ears.feed(item)
                elif isinstance(item, SpeechStarted):
                    self._cut_early = False
                    await self._on_speech_started(item)
                    await self.ears.begin(item.start_ms)
                elif isinstance(item, SpeechStopping):
                    self._on_speech_stopping(item)
                elif isinstance(item, SpeechResumed):
                    await self._on_speech_resumed(item)
                elif isinstance(item, ProviderSpeechEnded):
                    utt = self._utterance
                    if utt is not None and utt.end_ms == item.end_ms:  # the VAD is still waiting out its stop time
                        self._cut_early = True
                        self.provider_turn_ends += 1
                        await self._on_speech_ended(item)
                elif isinstance(item, SpeechEnded):
                    self._cut_early = False
                    await self._on_speech_ended(item)
                if self._done.is_set():
                    break
        finally:
            self._done.set()
            if self._pending_end is not None:
                self._pending_end.cancel()
            await self._cancel_reply()
            self._drop_utterance()
            await self._tasks.aclose()
            await self.ears.aclose()
        return self.ended_reason or "ended"

    async def _on_speech_started(self, event: SpeechStarted) -> None:
        self._drop_utterance()
        if self._pending_end is not None:  # the caller goes on with a held (unfinished) turn
            self._pending_end.cancel()
            self._pending_end = None
        if self._unsent is not None and self.judge.enabled:
            await self._withdraw_answer()  # the caller went on before the agent said a word of its answer
        agent = self.speaking
        self._utterance = _Utterance(start_ms=event.start_ms, during_agent_speech=agent)
        if self.judge.held_from_ms is not None and not agent and not self.ears.streaming:
            # the caller goes on with a held turn: the batch recogniser hears it whole, pause included ("at three
            # ... in the afternoon"), not the continuation apart (a stream has only heard what it was sent)
            self._utterance.heard_from_ms = self.judge.held_from_ms
        self.caller_utterances += 1
        self._changed()
        if self.on_speech is not None:
            self.on_speech("caller", True, "")
        if agent:
            # Stop the agent within this frame; whether it was a real interruption is decided
            # once we know how long the caller spoke and what they said (backchannels resume).
            started = time.perf_counter()
            self.output.pause()
            self.barge_in_stop_ms.append((time.perf_counter() - started) * 1000 + 20.0)

    def _on_speech_stopping(self, event: SpeechStopping) -> None:
        utt = self._utterance
        if utt is None:
            return
        utt.end_ms = event.end_ms
        if not self.ears.streaming:  # speculative: hides batch STT behind endpointing
            wait_ms = SPECULATION_WAIT_MS if self.ears.stt.busy() else 0
            utt.stt = self._tasks.start(self._transcribe(utt, wait_ms), name="conversation-stt")

    async def _on_speech_resumed(self, event: SpeechResumed) -> None:
        utt = self._utterance
        if utt is None and self._cut_early:
            # The recogniser called the end of speech, the VAD had not: the caller went on. A new utterance.
            self._cut_early = False
            self.false_cuts += 1
            start = SpeechStarted(event.t_ms, event.t_ms - 20)
            await self._on_speech_started(start)
            await self.ears.begin(start.start_ms)
            return
        if utt is not None:
            utt.end_ms = 0
            if utt.stt is not None:
                utt.stt.cancel()
                utt.stt = None

    def _provider_end(self, text: str) -> None:
        """The streaming recogniser says the caller finished: when the VAD heard silence begin too (it is
        waiting out its stop time), the turn ends now."""
        utt = self._utterance
        if utt is None or not utt.end_ms or self._paused or not self._frames:
            return
        now = self._frames[-1].t_ms + 20
        self.inbox.put(ProviderSpeechEnded(now, utt.start_ms, utt.end_ms))

    async def _on_speech_ended(self, event: SpeechEnded) -> None:
        utt = self._utterance
        self._utterance = None
        if utt is None:
            return
        self._changed()
        decided = time.perf_counter()
        utt.end_ms = event.end_ms
        utt.ended.set()
        if self.on_speech is not None:
            self.on_speech("caller", False, "")
        try:
            transcript = await (utt.stt if utt.stt is not None else self._transcribe(utt))
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or current.cancelling():
                raise
            return  # the speculative transcription was dropped
        if isinstance(transcript, STTError):
            await self._fail("transcriber", self.ears.stt.name, transcript)
            return
        text = transcript.text.strip()
        spoke_ms = event.end_ms - event.start_ms
        if utt.during_agent_speech:
            # The agent was paused when this speech began: judged by its words, a backchannel lets it go on.
            if is_backchannel(text) or (not text and spoke_ms < self.settings.min_interruption_ms):
                self.false_interruptions += 1
                sink().barge_in("resumed")
                log.info("backchannel %r (%d ms) during agent speech: the agent goes on", text, spoke_ms)
                self.output.resume()
                return
            await self._interrupt()
        if not text and not self.judge.holding:
            return
        if text and utt.heard_from_ms is not None:
            self.judge.heard_again()  # this transcript holds the held parts' words too
        stt_wait_ms = (time.perf_counter() - decided) * 1000
        verdict = self.judge.judge(text)
        if verdict.wait_ms > 0:
            # Smart turn: the caller may go on ("and...", half a number, no day yet): hold what was said, answer
            # it if nothing more comes within the wait (counted from the VAD's end of speech: the transcription
            # time is part of it); speech before then continues this same turn (`_on_speech_started`).
            self.judge.hold(text, verdict.wait_ms, start_ms=utt.start_ms)
            self._pending_end = self._tasks.start(
                self._answer_held(event, transcript, verdict, stt_wait_ms),
                name="conversation-held-turn")
            self._changed()
            log.debug("turn held %d ms (%s): %r", verdict.wait_ms, verdict.why, text)
            return
        metrics = TurnMetrics(index=len(self.turns) + 1, caller_text=self.judge.take(text), decided_at=decided,
                              endpointing_ms=float(event.t_ms - event.end_ms),
                              ended_by="recogniser" if isinstance(event, ProviderSpeechEnded) else "vad",
                              stt_ms=float(transcript.compute_ms), stt_wait_ms=stt_wait_ms)
        await self._commit_turn(metrics)

    async def _answer_held(self, event: SpeechEnded, transcript: Transcript, verdict: Verdict,
                           stt_wait_ms: float) -> None:
        await asyncio.sleep(max(0.0, verdict.wait_ms - stt_wait_ms) / 1000)
        await self._await_onset()
        self._pending_end = None
        caller_text = self.judge.take()
        if not caller_text:
            self._changed()
            return  # only sounds without words were held
        metrics = TurnMetrics(index=len(self.turns) + 1, caller_text=caller_text,
                              decided_at=time.perf_counter(),
                              endpointing_ms=float(event.t_ms - event.end_ms + verdict.wait_ms),
                              ended_by="recogniser" if isinstance(event, ProviderSpeechEnded) else "vad",
                              stt_ms=float(transcript.compute_ms), stt_wait_ms=stt_wait_ms)
        await self._commit_turn(metrics)

    async def _await_onset(self) -> None:
        """The wait ran out while the caller's voice was starting again: the VAD calls it speech only after its
        start time (0.2 s), so the held turn waits that long more; the speech's start then cancels this answer,
        a click that does not last lets it go (bounded: `ONSET_GRACE_MS`)."""
        onset = self.speech_onset
        waited = 0
        while onset is not None and onset() and waited < ONSET_GRACE_MS:
            await asyncio.sleep(0.02)
            waited += 20

    def _drop_held_turn(self) -> None:
        if self._pending_end is not None:
            self._pending_end.cancel()
            self._pending_end = None
        self.judge.take()

    async def _commit_turn(self, metrics: TurnMetrics) -> None:
        """The caller's turn goes to the model now; it is stored (emitted) once the agent's answer starts to
        sound, so an answer the caller talks over before its first word can be withdrawn (`_withdraw_answer`)."""
        user = ChatMessage("user", metrics.caller_text)
        self.messages.append(user)
        self._unsent = (user, metrics)
        self._start_reply(metrics)

    async def _emit_unsent(self) -> None:
        unsent, self._unsent = self._unsent, None
        if unsent is not None:
            await self._emit(unsent[0], {"direction": "incoming"})

    async def _withdraw_answer(self) -> None:
        """The caller speaks again after a turn was committed and before any audio of its answer: the answer is
        dropped unsaid (with any tool calls the model asked for) and the turn is held again, to become one
        message with what the caller says now."""
        unsent, self._unsent = self._unsent, None
        if unsent is None:
            return
        user, metrics = unsent
        self._withdrawn = metrics
        try:
            await self._cancel_reply()
        finally:
            self._withdrawn = None
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index] is user:
                del self.messages[index]
                break
        self.judge.hold(user.content)
        self.withdrawn_answers += 1
        log.info("the caller went on before the answer started: answer withdrawn, turn held (%r)", user.content)

    async def _transcribe(self, utt: _Utterance, wait_ms: int = 0) -> Transcript | STTError:
        """The utterance as text, after up to `wait_ms` (cut short by the end of the turn). A failure is returned,
        not raised: it is the turn's to handle (in `_on_speech_ended`), not the task owner's to log as a crashed
        background task."""
        if wait_ms and not utt.ended.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(utt.ended.wait(), wait_ms / 1000)
        start = utt.start_ms if utt.heard_from_ms is None else utt.heard_from_ms
        return await self.ears.transcript(start, utt.end_ms)

    def _drop_utterance(self) -> None:
        if self._utterance is None:
            return
        if self._utterance.stt is not None:
            self._utterance.stt.cancel()
        self.ears.discard()
        self._utterance = None
        self._changed()

    async def _interrupt(self) -> None:
        self.interruptions += 1
        sink().barge_in("interrupted")
        result = self._stop_speech()  # before the reply's own cleanup writes what was said
        self.output.resume()
        await self._cancel_reply()
        log.info("barge-in: agent stopped, %d ms of queued speech dropped", result.ms)
        if self.on_barge_in is not None:
            self.on_barge_in(float(result.ms))

    def _stop_speech(self) -> ClearResult:
        """Drop all queued agent audio; the utterance still playing learns how much of it was heard."""
        speech = self.speech
        if speech is not None and not speech.done():
            return speech.interrupt()
        return self.output.clear()

    async def _cancel_reply(self) -> None:
        task, self._reply = self._reply, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _start_reply(self, metrics: TurnMetrics, opening: bool = False, say: str = "") -> SpeechHandle | None:
        if self._done.is_set():
            return None  # the conversation is over: its task owner starts nothing more
        if opening and self.settings.first_message:
            say = self.settings.first_message
        handle = SpeechHandle(self.output)
        self._reply = self._tasks.start(self._respond(metrics, say, handle), name="conversation-reply")
        self._reply.add_done_callback(self._reply_done)
        self._changed()
        return handle

    def _reply_done(self, task: asyncio.Task[None]) -> None:
        if self.output.queued_ms:  # a reply cancelled as the conversation ended leaves its audio playing
            self.output.wait_for_playout().add_done_callback(lambda _: self._changed())
        self._changed()

    async def _emit(self, message: ChatMessage, extra: dict[str, object]) -> None:
        if self.on_message is not None:
            await self.on_message(message, extra)

    # -- one reply ----------------------------------------------------------------------------
    async def _respond(self, metrics: TurnMetrics, say: str, handle: SpeechHandle | None = None) -> None:
        """One agent turn; a provider that fails for good ends the conversation (see `_fail`)."""
        try:
            await self._turn(metrics, say, handle)
        except LLMError as exc:
            await self._fail("llm", self.llm.name, exc)
        except TTSError as exc:
            await self._fail("voice", self.tts.name, exc)

    async def _fail(self, component: Literal["llm", "voice", "transcriber"], provider: str, exc: Exception) -> None:
        """The provider already retried: apologise (unless the voice itself failed) and end with Vapi's
        `pipeline-error-...` reason; the flow decides what follows (ai_talk ends softly)."""
        log.error("AI call %s provider %r failed, ending the conversation: %s", component, provider, exc)
        self.provider_failures += 1
        if component == "voice" and self.apology_tts is not None and self.apology_tts is not self.tts:
            self.tts, self._own_voice = self.apology_tts, False  # the offline voice says why the call ends
            speaks = True
        else:
            speaks = component != "voice"
        if speaks and self.settings.apology and not self._done.is_set():
            try:
                await self._turn(TurnMetrics(index=0), self.settings.apology)
            except TTSError as again:
                log.error("the apology could not be spoken either: %s", again)
        self.end(pipeline_error(provider or "unknown", component))

    async def _turn(self, metrics: TurnMetrics, say: str, handle: SpeechHandle | None = None) -> None:
        """One agent turn: `say` verbatim, or what the model answers to the conversation so far."""
        self.speech = handle = handle or SpeechHandle(self.output)
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        calls: list[ToolCall] = []
        try:
            # The speaker is this turn's child, not a background task: it is awaited below whatever happens.
            speaker = asyncio.get_running_loop().create_task(self._speak(handle, sentences, metrics),
                                                             name="conversation-speaker")
            try:
                if say:
                    sentences.put_nowait(say)
                else:
                    calls = await self._think(sentences, metrics)
            finally:
                sentences.put_nowait(None)
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    speaker.cancel()  # a cancelled turn synthesises nothing more
                await speaker
            handle.end_input()
            await handle.wait_for_playout()  # resolved by the media path in the tick of the last frame
        finally:
            handle.end_input()  # a turn cut short still plays out what it queued, unless that was cleared
            if self._withdrawn is not metrics:  # withdrawn before a word was heard: nothing of this turn is kept
                await self._keep_turn(handle, metrics, calls)
                current = asyncio.current_task()
                if calls and handle.interrupted and current is not None and current.cancelling():
                    await self._run_cut_tools(calls)
        for call in calls:
            await self._run_tool(call)
        if calls and self.after_tools is not None and await self.after_tools() and not self._done.is_set():
            await self._respond(TurnMetrics(index=0), "")  # the model answers the tool results

    async def _run_cut_tools(self, calls: list[ToolCall]) -> None:
        """The caller talked over a reply whose tool calls the model had already asked for: they are in the history
        as asked, so they run (a booking confirmed by "Yes, | that's right" whose second half barged in stays
        booked: a real call lost it); the caller's new words are answered next, not the results. A tool that fails
        here is logged: the barge-in that cut the turn goes on."""
        for call in calls:
            try:
                await self._run_tool(call)
            except Exception:  # the turn is being cancelled: its cancellation must still propagate
                log.exception("tool %s of a reply cut by the caller failed", call.name)

    async def _keep_turn(self, handle: SpeechHandle, metrics: TurnMetrics, calls: list[ToolCall]) -> None:
        """Store a finished (or cut) agent turn: the caller's message first (an answer that made no sound still
        stores it), then what the caller heard of the reply."""
        await self._emit_unsent()
        # What the caller heard of an interrupted reply; all of it otherwise (a reply cancelled
        # because the conversation ended is still playing out).
        said = handle.heard_text if handle.interrupted else handle.text
        if said and self.on_speech is not None:
            self.on_speech("agent", False, said)
        if said:
            self.judge.asked = asked(said)  # what the caller's next turn answers
        if said or calls:  # a tool-only reply is kept too: tool results must follow their call
            message = ChatMessage("assistant", said, tool_calls=tuple(calls))
            self.messages.append(message)
            await self._emit(message, {"direction": "outgoing", "interrupted": handle.interrupted})
        if metrics.index:
            self.turns.append(metrics)
            sink().turn(turn_seconds(metrics))
            if self.on_turn is not None:
                self.on_turn(metrics, said, handle.interrupted)

    async def _think(self, sentences: asyncio.Queue[str | None], metrics: TurnMetrics) -> list[ToolCall]:
        splitter = SentenceSplitter()
        calls: list[ToolCall] = []
        asked = time.perf_counter()
        async for event in self.llm.stream(self.messages, tools=self.tools or None,
                                           temperature=self.settings.temperature,
                                           max_tokens=self.settings.max_tokens):
            if isinstance(event, TextDelta):
                if metrics.llm_first_token_ms is None:
                    metrics.llm_first_token_ms = (time.perf_counter() - asked) * 1000
                for sentence in splitter.push(event.text):
                    await sentences.put(sentence)
            elif isinstance(event, ToolCallRequest):
                calls.append(event.call)
            elif isinstance(event, Usage):
                metrics.input_tokens, metrics.output_tokens = event.input_tokens, event.output_tokens
        for sentence in splitter.flush():
            await sentences.put(sentence)
        return calls

    async def _speak(self, handle: SpeechHandle, sentences: asyncio.Queue[str | None], metrics: TurnMetrics) -> None:
        index = 0
        while (sentence := await sentences.get()) is not None:
            try:
                await self._speak_sentence(handle, index, sentence, metrics)
            except TTSError as exc:
                if self.fallback_tts is None or self.tts_fell_back:
                    raise
                log.error("voice %r failed, %r takes over the call: %s", self.tts.name, self.fallback_tts.name, exc)
                self.tts, self._own_voice, self.tts_fell_back = self.fallback_tts, False, True
                await self._speak_sentence(handle, index, sentence, metrics)  # the sentence again, whole
            index += 1

    async def _speak_sentence(self, handle: SpeechHandle, index: int, sentence: str, metrics: TurnMetrics) -> None:
        started = time.perf_counter()
        first = True
        tts = self.tts
        # aclosing: a barge-in (this task cancelled) closes the provider's request or socket at once
        async with contextlib.aclosing(tts.stream(sentence, voice_id=self._voice_id,
                                                  language=self.settings.language)) as chunks:
            async for chunk in chunks:
                if first and metrics.tts_first_audio_ms is None:
                    metrics.tts_first_audio_ms = (time.perf_counter() - started) * 1000
                    if metrics.decided_at:
                        metrics.engine_ms = max(0.0, (time.perf_counter() - metrics.decided_at) * 1000
                                                - metrics.provider_ms())
                if first and index == 0 and self.on_speech is not None:
                    self.on_speech("agent", True, "")
                first = False
                handle.play(index, sentence, chunk, tts.sample_rate)
                if self._unsent is not None:
                    await self._emit_unsent()  # the answer sounds: the caller's turn is final, store it

    async def _run_tool(self, call: ToolCall) -> None:
        if self.on_tool is None:
            result, end = f'{{"error": "tool {call.name} is not available"}}', None
        else:
            result, end = await self.on_tool(call)
        message = ChatMessage("tool", result, tool_call_id=call.id, name=call.name)
        self.messages.append(message)
        await self._emit(message, {"direction": "incoming"})
        if end is not None:
            self.end(end)

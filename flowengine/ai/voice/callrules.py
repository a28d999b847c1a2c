"""An AI's call rules on a live call: first message, end-call phrases, silence and duration limits, voicemail.

Each rule that ends the call sets Vapi's ended reason (flowengine.ai.endreasons) and ends it hard (the
call is hung up, as Vapi does). `end_call_message` is said, after the conversation stopped, on the ends
where the assistant decides (assistant-ended-call, silence-timed-out, exceeded-max-duration)."""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from flowengine.ai import endreasons as er
from flowengine.ai.voice.conversation import Conversation, ConversationSettings, MessageSink
from flowengine.ai.voice.media import CallMedia
from flowengine.ai.voice.speech_handle import SpeechHandle
from flowengine.ai.voice.voicemail import Verdict, screen
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.flow.variables import Variables
from flowengine.providers.llm.base import ChatMessage
from flowengine.providers.tts.base import TTSProvider
from flowengine.store import AI
from flowengine.store.aifeatures import VoicemailDetection
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

SILENCE_PROMPT = "Are you still there?"
SAY_TIMEOUT_S = 60.0  # a closing message longer than this is cut
_WORDS = re.compile(r"[^\w']+")


def _normal(text: str) -> str:
    return " ".join(_WORDS.sub(" ", text.lower()).split())


@dataclass
class CallRules:
    first_message: str = ""
    first_message_mode: str = "assistant-speaks-first"
    end_call_phrases: list[str] = field(default_factory=list)
    end_call_message: str = ""
    silence_timeout_s: float = 0.0
    max_duration_s: float = 0.0
    voicemail: VoicemailDetection | None = None
    voicemail_message: str = ""
    outbound: bool = False
    hard_end: bool = False  # a rule ended the call: hang it up (the flow stops)
    verdict: Verdict | None = None
    said_last: str = ""  # the closing message said after the conversation, if any

    @classmethod
    def for_call(cls, ai: AI, variables: Variables) -> CallRules:
        """The AI's rules with `${variables}` substituted; the call is outbound when the flow says so."""
        outbound = str(variables.get("voipbin.call.direction", "")) == "outgoing"
        return cls(
            first_message=str(variables.substitute(ai.first_message)), first_message_mode=ai.first_message_mode,
            end_call_phrases=[_normal(p) for p in ai.end_call_phrases if _normal(p)],
            end_call_message=str(variables.substitute(ai.end_call_message)),
            silence_timeout_s=float(ai.silence_timeout_seconds), max_duration_s=float(ai.max_duration_seconds),
            voicemail=ai.voicemail_detection, voicemail_message=str(variables.substitute(ai.voicemail_message)),
            outbound=outbound)

    # -- first message ------------------------------------------------------------------------
    def settings(self, base: ConversationSettings) -> ConversationSettings:
        """Vapi's firstMessageMode over the older `parameter.speak_first/first_message` (kept when the AI
        sets neither a first message nor a mode other than the default)."""
        mode = self.first_message_mode
        if mode == "assistant-waits-for-user":
            return replace(base, speak_first=False, first_message="")
        if mode == "assistant-speaks-first-with-model-generated-message":
            return replace(base, speak_first=True, first_message="")
        if self.first_message:
            return replace(base, speak_first=True, first_message=self.first_message)
        return base

    # -- end-call phrases ---------------------------------------------------------------------
    def said_end_phrase(self, text: str) -> str:
        said = f" {_normal(text)} "
        return next((p for p in self.end_call_phrases if f" {p} " in said), "")

    def attach(self, conversation: Conversation) -> None:
        """Watch what the agent said (messages are emitted once played out) for an end-call phrase."""
        sink: MessageSink | None = conversation.on_message

        async def on_message(message: ChatMessage, extra: dict[str, object]) -> None:
            if sink is not None:
                await sink(message, extra)
            if message.role == "assistant" and not extra.get("interrupted"):
                phrase = self.said_end_phrase(message.content)
                if phrase:
                    log.info("the agent said the end-call phrase %r: ending the call", phrase)
                    self.hard_end = True
                    conversation.end(er.END_CALL_PHRASE)

        conversation.on_message = on_message

    # -- the call -----------------------------------------------------------------------------
    async def converse(self, *, conversation: Conversation, media: CallMedia, tts: TTSProvider, call: Call,
                       ari: AriClient | None, run: Callable[[], Awaitable[str]]) -> str:
        """Screen for voicemail (outbound calls), run the conversation under the silence and duration
        limits, then say the closing message where one is due. Returns the ended reason."""
        if self.voicemail is not None and self.voicemail.enabled and self.outbound:
            try:
                self.verdict = await screen(media.inbox, self.voicemail, ari=ari, call=call)
            except EOFError:
                return er.CUSTOMER_ENDED
            log.info("answer classified: %s (%s)", self.verdict.answer, self.verdict.how)
            if self.verdict.answer == "machine":
                self.hard_end = True
                if self.voicemail_message:
                    await self.say(conversation, media, tts, call, self.voicemail_message)
                return er.VOICEMAIL
        watchers = TaskOwner("call rules")
        watchers.start(self._watch(conversation), name="call-rules-watch")
        try:
            reason = await run()
        finally:
            await watchers.aclose()
        if self.end_call_message and er.ending(reason).says_end_message:
            await self.say(conversation, media, tts, call, self.end_call_message)
        return reason

    async def _watch(self, conversation: Conversation) -> None:
        """The duration limit over the silence rule: both wait on timers and on the conversation's
        changes of who speaks, never on a poll."""
        try:
            async with asyncio.timeout(self.max_duration_s or None):
                await self._watch_silence(conversation)
                return
        except TimeoutError:
            pass
        log.info("maximum duration of %g s reached: ending the call", self.max_duration_s)
        self.hard_end = True
        await conversation.cut()
        conversation.end(er.EXCEEDED_MAX_DURATION)

    async def _watch_silence(self, conversation: Conversation) -> None:
        """After `silence_timeout_s` in which neither side spoke, the agent asks once whether the caller is
        still there; a second such silence ends the call. The caller speaking takes the prompt back."""
        if not self.silence_timeout_s:
            await asyncio.Event().wait()  # no silence rule: only the duration limit ends the watch
        prompted_at: int | None = None  # the caller's utterances counted when the prompt was said
        while True:
            if prompted_at is not None and conversation.caller_utterances != prompted_at:
                prompted_at = None
            if conversation.caller_speaking or conversation.speaking:
                await conversation.wait_change()  # the silence counts from the end of anyone's speech
                continue
            try:
                async with asyncio.timeout(self.silence_timeout_s):
                    await conversation.wait_change()
                continue
            except TimeoutError:
                pass
            if prompted_at is None:
                prompted_at = conversation.caller_utterances
                conversation.say(SILENCE_PROMPT)
            else:
                log.info("the caller stayed silent after a prompt: ending the call")
                self.hard_end = True
                conversation.end(er.SILENCE_TIMED_OUT)
                return

    async def say(self, conversation: Conversation, media: CallMedia, tts: TTSProvider, call: Call,
                  text: str) -> SpeechHandle | None:
        """Say a closing line straight on the call's audio output (the conversation is over) and wait until
        it was played out; stored as an assistant message like every reply. Returns its handle (None when
        the call was already gone)."""
        if call.ended.is_set() or media.closed:
            return None
        handle = SpeechHandle(conversation.output)
        try:
            async with asyncio.timeout(SAY_TIMEOUT_S):
                await handle.say(tts, text, voice_id=conversation.settings.voice_id,
                                 language=conversation.settings.language)
                # Played out, or the caller hung up (then nobody hears the rest; closing the media
                # clears the output, which ends the handle too).
                played = asyncio.get_running_loop().create_task(handle.wait_for_playout())
                hangup = asyncio.get_running_loop().create_task(call.ended.wait())
                try:
                    await asyncio.wait((played, hangup), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    played.cancel()
                    hangup.cancel()
        except TimeoutError:
            log.warning("closing message not played out within %g s", SAY_TIMEOUT_S)
        except RuntimeError as exc:  # the media session closed under us (hangup)
            log.info("closing message cut: %s", exc)
            return None
        self.said_last = text
        if conversation.on_message is not None:
            await conversation.on_message(ChatMessage("assistant", text), {"direction": "outgoing"})
        return handle

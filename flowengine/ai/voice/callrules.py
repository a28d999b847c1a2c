"""An AI's call rules on a live call: first message, end-call phrases, silence and duration limits, voicemail.

Each rule that ends the call sets Vapi's ended reason (flowengine.ai.endreasons) and ends it hard (the
call is hung up, as Vapi does). `end_call_message` is said, after the conversation stopped, on the ends
where the assistant decides (assistant-ended-call, silence-timed-out, exceeded-max-duration)."""
from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from flowengine.ai import endreasons as er
from flowengine.ai.voice.conversation import Conversation, ConversationSettings, MessageSink
from flowengine.ai.voice.media import CallMedia
from flowengine.ai.voice.voicemail import Verdict, screen
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.flow.variables import Variables
from flowengine.providers.llm.base import ChatMessage
from flowengine.providers.tts.base import TTSProvider
from flowengine.store import AI
from flowengine.store.aifeatures import VoicemailDetection

log = logging.getLogger(__name__)

SILENCE_PROMPT = "Are you still there?"
POLL_S = 0.1
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
        watcher = asyncio.ensure_future(self._watch(conversation))
        try:
            reason = await run()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        if self.end_call_message and er.ending(reason).says_end_message:
            await self.say(conversation, media, tts, call, self.end_call_message)
        return reason

    async def _watch(self, conversation: Conversation) -> None:
        started = last_heard = time.monotonic()
        prompted = False
        while True:
            await asyncio.sleep(POLL_S)
            now = time.monotonic()
            if self.max_duration_s and now - started >= self.max_duration_s:
                log.info("maximum duration of %g s reached: ending the call", self.max_duration_s)
                self.hard_end = True
                await conversation.cut()
                conversation.end(er.EXCEEDED_MAX_DURATION)
                return
            if not self.silence_timeout_s:
                continue
            if conversation.caller_speaking:
                last_heard, prompted = now, False
            elif conversation.speaking:
                last_heard = now  # the silence counts from the end of the agent's speech
            elif now - last_heard >= self.silence_timeout_s:
                if not prompted:
                    prompted, last_heard = True, now
                    conversation.say(SILENCE_PROMPT)
                else:
                    log.info("the caller stayed silent after a prompt: ending the call")
                    self.hard_end = True
                    conversation.end(er.SILENCE_TIMED_OUT)
                    return

    async def say(self, conversation: Conversation, media: CallMedia, tts: TTSProvider, call: Call,
                  text: str) -> None:
        """Say a closing line straight into the call's media (the conversation is over) and wait until
        it was played out; stored as an assistant message like every reply."""
        if call.ended.is_set() or media.closed:
            return
        session = media.session
        try:
            async with asyncio.timeout(SAY_TIMEOUT_S):
                async for chunk in tts.stream(text, voice_id=conversation.settings.voice_id,
                                              language=conversation.settings.language):
                    session.play(chunk, tts.sample_rate)
                session.flush_output()
                while session.queued_ms > 0 and not call.ended.is_set() and not media.closed:
                    await asyncio.sleep(0.02)
        except TimeoutError:
            log.warning("closing message not played out within %g s", SAY_TIMEOUT_S)
        except RuntimeError as exc:  # the media session closed under us (hangup)
            log.info("closing message cut: %s", exc)
            return
        self.said_last = text
        if conversation.on_message is not None:
            await conversation.on_message(ChatMessage("assistant", text), {"direction": "outgoing"})

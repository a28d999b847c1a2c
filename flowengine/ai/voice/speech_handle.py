"""`SpeechHandle`: one agent utterance on an `AudioOutput`, from its first chunk to played out or interrupted."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Hashable
from typing import NamedTuple

from flowengine.ai.voice.heard import HeardTracker
from flowengine.media.g711 import Pcm
from flowengine.media.output import AudioOutput, PlayoutEnd
from flowengine.media.pacer import ClearResult
from flowengine.providers.tts.base import TTSProvider

NOTHING_CLEARED = ClearResult(0, ())


class SpeechMark(NamedTuple):
    """The mark a handle puts on each chunk it plays: reported by the output once the chunk was sent."""

    handle: SpeechHandle
    sentence: int  # the number of the sentence the chunk belongs to


def report_mark(mark: Hashable) -> None:
    """The `on_mark` of an output that handles speak through: tells each handle what was sent."""
    if isinstance(mark, SpeechMark):
        mark.handle._reached(mark.sentence)


class SpeechHandle:
    """One utterance of the agent, in the spirit of LiveKit Agents' `voice/speech_handle.py`.

    Its audio goes out with `play()`, sentence by sentence; `end_input()` says nothing more comes,
    and the handle is `done()` once the output has played all of it (the output's playout future,
    set by the media path, not a poll), or at once when `interrupt()`ed (barge-in: what is still
    queued is dropped) or when the output was cleared under it. `heard_text` is what the caller
    actually heard, told by the marks of sent chunks and by what a clear dropped.
    """

    def __init__(self, output: AudioOutput) -> None:
        self.id = uuid.uuid4().hex[:8]
        self._output = output
        self._heard = HeardTracker()
        self._done = asyncio.Event()
        self._input_ended = False

    def __repr__(self) -> str:
        state = "interrupted" if self.interrupted else "done" if self.done() else "speaking"
        return f"<SpeechHandle {self.id} {state}: {self.text!r}>"

    # -- state ---------------------------------------------------------------------------------
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def interrupted(self) -> bool:
        return self._heard.was_interrupted

    @property
    def text(self) -> str:
        """Everything queued for this utterance."""
        return self._heard.text()

    @property
    def heard_text(self) -> str:
        """What the caller heard: all of it once played out, the part sent before an interruption
        (a cut sentence ends in "..."), and while still playing, the sentences sent so far."""
        if self.interrupted:
            return self._heard.heard_text()
        return self._heard.text() if self.done() else self._heard.sent_text()

    async def wait_for_playout(self) -> None:
        """Returns once the utterance was played out or interrupted."""
        await self._done.wait()

    # -- speaking ------------------------------------------------------------------------------
    def play(self, index: int, sentence: str, pcm: Pcm, rate: int) -> None:
        """Queue a chunk of sentence number `index`; dropped once the handle is done (a reply cut
        by barge-in says nothing more)."""
        if self.done():
            return
        if self._input_ended:
            raise RuntimeError(f"speech {self.id} was ended: it takes no more audio")
        self._heard.queued(index, sentence, pcm.size * 1000 // rate)
        self._output.play(pcm, rate, mark=SpeechMark(self, index))

    async def say(self, tts: TTSProvider, text: str, *, voice_id: str = "", language: str = "") -> None:
        """All of a fixed line (a first message, a tool's notice, a closing line) through `tts`, then
        `end_input()`: returns once it is queued; `wait_for_playout()` for once it was heard."""
        try:
            async for chunk in tts.stream(text, voice_id=voice_id, language=language):
                self.play(0, text, chunk, tts.sample_rate)
        finally:
            self.end_input()

    def end_input(self) -> None:
        """Nothing more comes: send the last partial frame; done once the output has played it all.
        Idempotent."""
        if self._input_ended:
            return
        self._input_ended = True
        if self.done():
            return
        self._output.flush()
        self._output.wait_for_playout().add_done_callback(self._played)

    def interrupt(self) -> ClearResult:
        """Stop now: drop what is still queued on the output. Nothing when already done."""
        if self.done():
            return NOTHING_CLEARED
        cleared = self._output.clear()
        self._heard.interrupted(cleared)
        self._done.set()
        return cleared

    # -- told by the output --------------------------------------------------------------------
    def _reached(self, index: int) -> None:
        self._heard.reached(index)

    def _played(self, future: asyncio.Future[PlayoutEnd]) -> None:
        if self.done():
            return
        end = PlayoutEnd(NOTHING_CLEARED) if future.cancelled() else future.result()
        if end.cleared is not None:  # cleared by someone else (a tool stopping the media, a pause)
            self._heard.interrupted(end.cleared)
        self._done.set()

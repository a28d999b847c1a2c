"""SpeechHandle: an utterance played to the end or cut, what the caller heard, playout awaited without polling."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from flowengine.ai.voice.speech_handle import SpeechHandle, report_mark
from flowengine.media.codecs import get_codec
from flowengine.media.outbound import Playout
from tests.ai.fakes import FakeOutput, ToneTTS


def words(n: int) -> np.ndarray:
    """What ToneTTS makes of n words: 100 ms each at 16 kHz."""
    return np.full(n * 1600, 1000, dtype=np.int16)


async def loop_turns(n: int = 5) -> None:
    """Lets the loop run `n` iterations without letting any time pass (no timer can fire)."""
    for _ in range(n):
        await asyncio.sleep(0)


def output() -> FakeOutput:
    out = FakeOutput()
    out.on_mark = report_mark
    return out


async def test_played_to_the_end_the_handle_is_done_and_everything_was_heard() -> None:
    out = output()
    handle = SpeechHandle(out)
    handle.play(0, "Hello there.", words(2), 16000)
    handle.play(1, "How are you today?", words(4), 16000)
    handle.end_input()
    assert out.flushes == 1 and handle.text == "Hello there. How are you today?"
    assert handle.heard_text == "" and not handle.done()
    for _ in range(10):  # the first sentence (200 ms) is out
        out.tick()
    assert handle.heard_text == "Hello there." and not handle.done()
    for _ in range(20):
        out.tick()
    await loop_turns()
    assert handle.done() and not handle.interrupted
    assert handle.heard_text == "Hello there. How are you today?"
    handle.end_input()  # idempotent
    assert out.flushes == 1


async def test_interrupted_mid_sentence_only_the_words_sent_were_heard() -> None:
    out = output()
    handle = SpeechHandle(out)
    handle.play(0, "Yes.", words(1), 16000)
    handle.play(1, "We are open from nine to five on every day", words(10), 16000)
    for _ in range(5 + 25):  # "Yes." and half of the long sentence
        out.tick()
    cleared = handle.interrupt()
    assert cleared.ms == 500 and out.cleared == [500]
    assert handle.done() and handle.interrupted
    assert handle.heard_text == "Yes. We are open from nine..."
    assert handle.text == "Yes. We are open from nine to five on every day"
    handle.play(2, "More words.", words(2), 16000)  # a cut reply says nothing more
    assert out.queued_ms == 0
    assert handle.interrupt().ms == 0 and out.cleared == [500]  # a done handle clears nothing
    await asyncio.wait_for(handle.wait_for_playout(), 1)


async def test_an_output_cleared_under_the_handle_interrupts_it() -> None:
    out = output()
    handle = SpeechHandle(out)
    handle.play(0, "one two three four", words(4), 16000)
    handle.end_input()
    for _ in range(10):
        out.tick()
    out.clear()  # a tool stopping the media, say
    await loop_turns()
    assert handle.done() and handle.interrupted and handle.heard_text == "one two..."


async def test_wait_for_playout_wakes_in_the_tick_of_the_last_frame_without_polling() -> None:
    out = output()
    handle = SpeechHandle(out)
    handle.play(0, "Goodbye.", words(1), 16000)
    handle.end_input()
    waiter = asyncio.ensure_future(handle.wait_for_playout())
    for _ in range(4):
        out.tick()
        await loop_turns()
    assert not waiter.done()
    out.tick()  # the last 20 ms: no time passes from here on, so no poll could notice it
    await loop_turns()
    assert waiter.done() and handle.done()


async def test_a_handle_over_the_real_playout_is_done_with_the_last_packet() -> None:
    sent: list[bytes] = []
    playout = Playout(get_codec("ulaw"), sent.append, on_mark=report_mark)
    handle = SpeechHandle(playout)
    handle.play(0, "Hi.", words(1), 16000)
    handle.play(1, "Bye now.", words(2), 16000)
    handle.end_input()
    ticks = 0
    while not sent or playout.queued_ms:
        playout.on_tick()
        ticks += 1
        if ticks == 5:
            assert handle.heard_text == "Hi."
    await loop_turns()
    assert ticks == 15 and len(sent) == 15
    assert handle.done() and not handle.interrupted and handle.heard_text == "Hi. Bye now."


async def test_say_plays_a_fixed_line_and_ends_its_input() -> None:
    out = output()
    handle = SpeechHandle(out)
    await handle.say(ToneTTS(), "Please hold the line.")
    assert out.flushes == 1 and out.queued_ms == 400 and handle.text == "Please hold the line."
    for _ in range(20):
        out.tick()
    await asyncio.wait_for(handle.wait_for_playout(), 1)
    assert not handle.interrupted and handle.heard_text == "Please hold the line."
    other = SpeechHandle(out)
    await other.say(ToneTTS(), "One more.")  # its input ended, it is still playing: adding to it is a bug
    with pytest.raises(RuntimeError, match="no more audio"):
        other.play(1, "late", words(1), 16000)

"""Pacer: one frame per tick, idle silence, marks, barge-in clear, pause/resume."""
from __future__ import annotations

from collections.abc import Hashable

import pytest

from flowengine.media.pacer import ClearResult, Pacer

SILENCE = b"\x00"


def frames(n: int, start: int = 0) -> list[bytes]:
    return [bytes([i % 256]) for i in range(start, start + n)]


def test_one_frame_per_tick_in_order_then_nothing_when_idle() -> None:
    pacer = Pacer()
    pacer.extend(frames(3))
    assert [pacer.next_frame() for _ in range(5)] == [*frames(3), None, None]
    assert (pacer.sent_frames, pacer.idle_ticks, pacer.silence_frames) == (3, 2, 0)


def test_idle_silence_only_when_configured() -> None:
    pacer = Pacer(silence=SILENCE)
    pacer.push(b"a")
    assert [pacer.next_frame() for _ in range(3)] == [b"a", SILENCE, SILENCE]
    assert pacer.silence_frames == 2


def test_marks_are_reported_when_their_last_frame_is_sent() -> None:
    reported: list[Hashable] = []
    pacer = Pacer(on_mark=reported.append)
    pacer.extend(frames(2))
    pacer.mark("hello")
    pacer.extend(frames(3))
    pacer.mark("world")
    pacer.next_frame()
    assert reported == []
    pacer.next_frame()
    assert reported == ["hello"]
    pacer.next_frame()
    pacer.next_frame()
    assert reported == ["hello"]
    pacer.next_frame()
    assert reported == ["hello", "world"]


def test_mark_on_empty_queue_is_reported_at_the_next_tick() -> None:
    reported: list[Hashable] = []
    pacer = Pacer(on_mark=reported.append)
    pacer.mark(1)
    assert reported == []
    assert pacer.next_frame() is None
    assert reported == [1]


def test_clear_drops_unsent_audio_and_returns_its_marks() -> None:
    reported: list[Hashable] = []
    pacer = Pacer(on_mark=reported.append)
    pacer.extend(frames(10))
    pacer.mark("first")
    pacer.extend(frames(10))
    pacer.mark("second")
    for _ in range(4):
        pacer.next_frame()
    result = pacer.clear()
    assert result == ClearResult(16, ("first", "second"))
    assert result.ms == 320
    assert pacer.queued_frames == 0
    assert pacer.next_frame() is None
    assert reported == []


def test_clear_keeps_marks_already_reached_but_not_yet_reported() -> None:
    reported: list[Hashable] = []
    pacer = Pacer(on_mark=reported.append)
    pacer.extend(frames(2))
    pacer.next_frame()
    pacer.next_frame()
    pacer.mark("done")  # its audio is all sent
    assert pacer.clear().marks == ()
    pacer.next_frame()
    assert reported == ["done"]


def test_new_audio_after_clear_plays_and_marks_again() -> None:
    reported: list[Hashable] = []
    pacer = Pacer(on_mark=reported.append)
    pacer.extend(frames(5))
    pacer.next_frame()
    pacer.clear()
    pacer.extend(frames(2, 50))
    pacer.mark("again")
    assert [pacer.next_frame(), pacer.next_frame()] == frames(2, 50)
    assert reported == ["again"]


def test_pause_holds_the_queue_and_resume_continues() -> None:
    pacer = Pacer(silence=SILENCE)
    pacer.extend(frames(3))
    assert pacer.next_frame() == frames(1)[0]
    pacer.pause()
    assert pacer.paused
    assert [pacer.next_frame(), pacer.next_frame()] == [SILENCE, SILENCE]
    assert pacer.queued_ms == 40
    pacer.resume()
    assert [pacer.next_frame(), pacer.next_frame()] == frames(2, 1)
    assert pacer.idle_ticks == 0


def test_mark_validation() -> None:
    pacer = Pacer()
    pacer.extend(frames(3))
    with pytest.raises(ValueError, match="beyond the queued audio"):
        pacer.mark("x", after=4)
    pacer.mark("b", after=3)
    with pytest.raises(ValueError, match="playout order"):
        pacer.mark("a", after=1)

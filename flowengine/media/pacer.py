"""Outbound playout queue: one frame per tick, barge-in `clear()`, pause/resume, playout-progress marks."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

FRAME_MS = 20

MarkHandler = Callable[[Hashable], None]


@dataclass(frozen=True, slots=True)
class ClearResult:
    """What a barge-in `clear()` dropped: audio never sent, and the marks it carried."""

    frames: int
    marks: tuple[Hashable, ...]

    @property
    def ms(self) -> int:
        return self.frames * FRAME_MS


class Pacer:
    """The frames one call still has to send, handed out one per 20 ms tick.

    The tick itself comes from the shared `MediaClock` (a deadline schedule); the pacer only
    decides what each tick sends: the next queued frame, or when idle or paused the `silence`
    frame if one is configured, else nothing (`None`).

    A mark placed after frame N (`mark(id)` after pushing it, or `mark(id, after=N)`) is
    reported to `on_mark` in the tick that sends frame N: the caller has then been sent
    everything up to that point. Marks whose audio is dropped by `clear()` are never reported;
    `clear()` returns them instead.
    """

    __slots__ = (
        "_marks",
        "_paused",
        "_pushed",
        "_queue",
        "_sent",
        "cleared_frames",
        "idle_ticks",
        "marks_reported",
        "on_mark",
        "sent_frames",
        "silence",
        "silence_frames",
    )

    def __init__(self, *, silence: bytes | None = None, on_mark: MarkHandler | None = None) -> None:
        self.silence = silence
        self.on_mark = on_mark
        self._queue: deque[bytes] = deque()
        self._marks: deque[tuple[int, Hashable]] = deque()
        self._pushed = 0  # frames ever queued (minus those dropped by clear())
        self._sent = 0  # frames ever sent from the queue
        self._paused = False
        self.sent_frames = 0
        self.silence_frames = 0
        self.idle_ticks = 0
        self.cleared_frames = 0
        self.marks_reported = 0

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    @property
    def queued_ms(self) -> int:
        return len(self._queue) * FRAME_MS

    @property
    def pushed(self) -> int:
        """Position of the end of the queue, in frames since the start of the stream."""
        return self._pushed

    @property
    def paused(self) -> bool:
        return self._paused

    def push(self, frame: bytes) -> None:
        self._queue.append(frame)
        self._pushed += 1

    def extend(self, frames: Iterable[bytes]) -> None:
        before = len(self._queue)
        self._queue.extend(frames)
        self._pushed += len(self._queue) - before

    def mark(self, mark_id: Hashable, *, after: int | None = None) -> None:
        """Report `mark_id` once frame number `after` (default: the last pushed) is sent."""
        position = self._pushed if after is None else after
        if position > self._pushed:
            raise ValueError(f"mark position {position} is beyond the queued audio ({self._pushed})")
        if self._marks and position < self._marks[-1][0]:
            raise ValueError("marks must be placed in playout order")
        self._marks.append((position, mark_id))

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def clear(self) -> ClearResult:
        """Barge-in: drop everything not yet sent; returns how much audio and which marks."""
        dropped = len(self._queue)
        self._queue.clear()
        self._pushed = self._sent
        kept: deque[tuple[int, Hashable]] = deque()
        lost: list[Hashable] = []
        for position, mark_id in self._marks:
            if position <= self._sent:
                kept.append((position, mark_id))
            else:
                lost.append(mark_id)
        self._marks = kept
        self.cleared_frames += dropped
        return ClearResult(dropped, tuple(lost))

    def next_frame(self) -> bytes | None:
        """This tick's frame; reports marks reached. Called once per tick by the clock."""
        frame: bytes | None
        if self._queue and not self._paused:
            frame = self._queue.popleft()
            self._sent += 1
            self.sent_frames += 1
        else:
            if not self._paused:
                self.idle_ticks += 1
            frame = self.silence
            if frame is not None:
                self.silence_frames += 1
        if self._marks and self._marks[0][0] <= self._sent:
            self._report_marks()
        return frame

    def counters(self) -> dict[str, int]:
        return {
            "pacer_sent_frames": self.sent_frames,
            "pacer_silence_frames": self.silence_frames,
            "pacer_idle_ticks": self.idle_ticks,
            "pacer_cleared_frames": self.cleared_frames,
            "pacer_queued_frames": len(self._queue),
            "pacer_marks_reported": self.marks_reported,
        }

    def _report_marks(self) -> None:
        marks = self._marks
        while marks and marks[0][0] <= self._sent:
            _, mark_id = marks.popleft()
            self.marks_reported += 1
            if self.on_mark is not None:
                self.on_mark(mark_id)

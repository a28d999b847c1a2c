"""RTP counters of every media session since the process started: the closed sessions' sums plus the open ones' now."""
from __future__ import annotations

from collections import Counter
from typing import Protocol


class Counted(Protocol):
    def counters(self) -> dict[str, int]: ...


class MediaTotals:
    """Cumulative (never going down while the process runs, as Prometheus counters must): a session joins when its
    socket opens and retires when it closes, its last counts moving into `retired` in the same step, so a scrape
    never sees a session twice or not at all. Read at scrape time; nothing here runs per packet."""

    def __init__(self) -> None:
        self._open: set[Counted] = set()
        self.retired: Counter[str] = Counter()
        self.sessions = 0  # sessions opened so far

    def join(self, session: Counted) -> None:
        if session not in self._open:
            self._open.add(session)
            self.sessions += 1

    def retire(self, session: Counted) -> None:
        if session in self._open:
            self._open.remove(session)
            self.retired.update(session.counters())

    @property
    def open(self) -> int:
        return len(self._open)

    def counters(self) -> dict[str, int]:
        total = Counter(self.retired)
        for session in self._open:
            total.update(session.counters())
        return dict(total)


TOTALS = MediaTotals()
"""The process's media sessions (every `MediaSession` joins it)."""

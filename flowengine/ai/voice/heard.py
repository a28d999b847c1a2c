"""Which words of a reply the caller actually heard (marks of sent audio, what barge-in dropped)."""
from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass
class _Chunk:
    index: int  # sentence
    ms: int
    sent: bool = False


@dataclass
class HeardTracker:
    reply_id: str = ""
    sentences: dict[int, str] = field(default_factory=dict)
    chunks: list[_Chunk] = field(default_factory=list)
    was_interrupted: bool = False
    _partial: tuple[int, int] | None = None  # (sentence index, ms of it heard) at barge-in

    def start(self, reply_id: str) -> None:
        self.reply_id = reply_id
        self.sentences, self.chunks = {}, []
        self.was_interrupted, self._partial = False, None

    def queued(self, reply_id: str, index: int, sentence: str, ms: int) -> None:
        if reply_id == self.reply_id:
            self.sentences[index] = sentence
            self.chunks.append(_Chunk(index, ms))

    def reached(self, mark: Hashable) -> None:
        """A chunk's last sample was sent (called from the media tick, in queue order)."""
        if not isinstance(mark, tuple) or mark[0] != self.reply_id:
            return
        for chunk in self.chunks:
            if not chunk.sent and chunk.index == mark[1]:
                chunk.sent = True
                return

    def interrupted(self, cleared: object) -> None:
        """Barge-in dropped `cleared.ms` of queued audio: the tail of what was not yet sent."""
        self.was_interrupted = True
        unsent = [c for c in self.chunks if not c.sent]
        if not unsent:
            return
        dropped = int(getattr(cleared, "ms", 0))
        heard_of_first = max(0, sum(c.ms for c in unsent) - dropped)
        self._partial = (unsent[0].index, heard_of_first)

    def finish(self) -> str:
        """The reply as heard: whole sentences sent, plus the heard words of a cut one."""
        if not self.was_interrupted:
            return " ".join(self.sentences[i] for i in sorted(self.sentences))
        parts: list[str] = []
        for index in sorted(self.sentences):
            chunks = [c for c in self.chunks if c.index == index]
            if chunks and all(c.sent for c in chunks):
                parts.append(self.sentences[index])
                continue
            if self._partial is not None and self._partial[0] == index:
                total = sum(c.ms for c in chunks) or 1
                sent_ms = sum(c.ms for c in chunks if c.sent) + self._partial[1]
                words = self.sentences[index].split()
                count = math.floor(len(words) * min(1.0, sent_ms / total))
                if count:
                    parts.append(" ".join(words[:count]) + "...")
            break
        return " ".join(parts)

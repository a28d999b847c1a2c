"""Which words of one agent utterance the caller actually heard (marks of sent audio, what barge-in dropped)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from flowengine.media.pacer import ClearResult


@dataclass
class _Chunk:
    index: int  # sentence
    ms: int
    sent: bool = False


@dataclass
class HeardTracker:
    """The sentences of one utterance, chunk by chunk as queued, and which chunks were sent."""

    sentences: dict[int, str] = field(default_factory=dict)
    chunks: list[_Chunk] = field(default_factory=list)
    was_interrupted: bool = False
    _partial: tuple[int, int] | None = None  # (sentence index, ms of it heard) at barge-in

    def queued(self, index: int, sentence: str, ms: int) -> None:
        self.sentences[index] = sentence
        self.chunks.append(_Chunk(index, ms))

    def reached(self, index: int) -> None:
        """A chunk of sentence `index` had its last sample sent (marks come in queue order)."""
        for chunk in self.chunks:
            if not chunk.sent and chunk.index == index:
                chunk.sent = True
                return

    def interrupted(self, cleared: ClearResult) -> None:
        """Barge-in dropped `cleared.ms` of queued audio: the tail of what was not yet sent."""
        self.was_interrupted = True
        unsent = [c for c in self.chunks if not c.sent]
        if not unsent:
            return
        heard_of_first = max(0, sum(c.ms for c in unsent) - cleared.ms)
        self._partial = (unsent[0].index, heard_of_first)

    def text(self) -> str:
        """Every sentence queued."""
        return " ".join(self.sentences[i] for i in sorted(self.sentences))

    def sent_text(self) -> str:
        """The sentences sent to the end so far."""
        return " ".join(self.sentences[i] for i in sorted(self.sentences) if self._all_sent(i))

    def heard_text(self) -> str:
        """After a barge-in: whole sentences sent, plus the heard words of the cut one ("..." marks the cut)."""
        parts: list[str] = []
        for index in sorted(self.sentences):
            if self._all_sent(index):
                parts.append(self.sentences[index])
                continue
            if self._partial is not None and self._partial[0] == index:
                chunks = [c for c in self.chunks if c.index == index]
                total = sum(c.ms for c in chunks) or 1
                sent_ms = sum(c.ms for c in chunks if c.sent) + self._partial[1]
                words = self.sentences[index].split()
                count = math.floor(len(words) * min(1.0, sent_ms / total))
                if count:
                    parts.append(" ".join(words[:count]) + "...")
            break
        return " ".join(parts)

    def _all_sent(self, index: int) -> bool:
        chunks = [c for c in self.chunks if c.index == index]
        return bool(chunks) and all(c.sent for c in chunks)

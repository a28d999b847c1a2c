"""Jitter buffer: reorder by sequence number, drop duplicates and late packets, fill losses."""
from __future__ import annotations

from typing import Literal

FillMode = Literal["silence", "repeat"]

# RFC 3550 appendix A.1: a jump this far ahead, or this far back, is a new stream, not loss.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
# Missing packets filled at most per gap; a longer gap is counted as lost but not filled, so
# a stream that resumes after a long outage does not flood the consumer.
MAX_FILL = 50
# "repeat" fills repeat the last frame this many times in a row, then fall back to silence:
# a frame repeated for long sounds like a buzz.
REPEAT_LIMIT = 3
# Sequence numbers of emitted packets remembered to tell a duplicate from a late packet.
_HISTORY = 1024


class JitterBuffer:
    """Packets in, frames out in sequence order, with bounded waiting for missing packets.

    In-order packets come out at once (no added latency). A missing packet is waited for
    while fewer than `capacity` packets wait behind it; then it is declared lost and filled
    with `silence` or a repetition of the last frame (`fill`). Packets older than the play-out
    point are dropped as late, or as duplicates if they were already emitted.
    """

    def __init__(self, *, silence: bytes, capacity: int = 4, fill: FillMode = "silence") -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        if fill not in ("silence", "repeat"):
            raise ValueError(f"fill must be 'silence' or 'repeat', got {fill!r}")
        self.capacity = capacity
        self.fill = fill
        self.silence = silence
        self._expected: int | None = None
        self._pending: dict[int, bytes] = {}
        self._history = [-1] * _HISTORY
        self._last = silence
        self._repeats = 0
        self.received = 0
        self.emitted = 0
        self.lost = 0
        self.late = 0
        self.duplicate = 0
        self.restarts = 0

    def __len__(self) -> int:
        return len(self._pending)

    def reset(self) -> None:
        """Forget the stream (new SSRC): the next packet starts a new sequence."""
        self._expected = None
        self._pending.clear()
        self._history = [-1] * _HISTORY
        self._last = self.silence
        self._repeats = 0

    def next_in_order(self) -> int | None:
        """The sequence number `accept_in_order()` takes: the expected one, if nothing waits."""
        return None if self._pending else self._expected

    def accept_in_order(self, seq: int, payload: bytes) -> None:
        """`push()` of the packet `next_in_order()` named, which comes straight out."""
        self.received += 1
        self._emit_one(seq, payload)

    def take_in_order(self, seq: int, payload: bytes) -> bool:
        """The common case of `push()` in one call: when `seq` is the expected packet and
        nothing waits, emit it and return True (it comes straight out); otherwise change
        nothing and return False (use `push()`)."""
        if seq != self._expected or self._pending:
            return False
        self.received += 1
        self.emitted += 1
        self._expected = (seq + 1) & 0xFFFF
        self._history[seq % _HISTORY] = seq
        self._last = payload
        self._repeats = 0
        return True

    def push(self, seq: int, payload: bytes) -> list[bytes]:
        """Add one packet; returns the frames now ready, in order (fills included)."""
        expected = self._expected
        if expected is None:
            expected = self._expected = seq
        delta = ((seq - expected + 0x8000) & 0xFFFF) - 0x8000
        if delta == 0 and not self._pending:
            self.received += 1
            self._emit_one(seq, payload)
            return [payload]
        if delta < 0:
            if delta >= -MAX_MISORDER:
                if self._history[seq % _HISTORY] == seq:
                    self.duplicate += 1
                else:
                    self.late += 1
                return []
            return self._restart(seq, payload)
        if delta >= MAX_DROPOUT:
            return self._restart(seq, payload)
        if seq in self._pending:
            self.duplicate += 1
            return []
        self.received += 1
        self._pending[seq] = payload
        out: list[bytes] = []
        if delta >= self.capacity:
            # Too many packets wait behind the gap: give up on what is missing before the
            # newest `capacity` packets.
            self._skip_to((seq - self.capacity + 1) & 0xFFFF, out)
        self._drain(out)
        return out

    def flush(self) -> list[bytes]:
        """Everything still waiting, in order, gaps filled (end of stream)."""
        out: list[bytes] = []
        expected = self._expected
        if self._pending and expected is not None:
            newest = max(self._pending, key=lambda seq: (seq - expected) & 0xFFFF)
            self._skip_to(newest, out)
            self._drain(out)
        return out

    def counters(self) -> dict[str, int]:
        return {
            "jitter_received": self.received,
            "jitter_emitted": self.emitted,
            "jitter_lost": self.lost,
            "jitter_late": self.late,
            "jitter_duplicate": self.duplicate,
            "jitter_restarts": self.restarts,
        }

    def _emit_one(self, seq: int, payload: bytes) -> None:
        self._expected = (seq + 1) & 0xFFFF
        self._history[seq % _HISTORY] = seq
        self._last = payload
        self._repeats = 0
        self.emitted += 1

    def _drain(self, out: list[bytes]) -> None:
        pending = self._pending
        expected = self._expected
        while expected in pending:
            payload = pending.pop(expected)
            self._emit_one(expected, payload)
            out.append(payload)
            expected = self._expected

    def _skip_to(self, target: int, out: list[bytes]) -> None:
        """Emit what is pending before `target` and fill the gaps, so `target` is next."""
        assert self._expected is not None
        gap_fills = 0
        while self._expected != target:
            expected = self._expected
            payload = self._pending.pop(expected, None)
            if payload is not None:
                self._emit_one(expected, payload)
                out.append(payload)
                gap_fills = 0
                continue
            self.lost += 1
            self._expected = (expected + 1) & 0xFFFF
            if gap_fills < MAX_FILL:
                gap_fills += 1
                out.append(self._fill_frame())

    def _fill_frame(self) -> bytes:
        if self.fill == "repeat" and self._repeats < REPEAT_LIMIT:
            self._repeats += 1
            return self._last
        return self.silence

    def _restart(self, seq: int, payload: bytes) -> list[bytes]:
        self.restarts += 1
        out = self.flush()
        self._pending.clear()
        self._expected = seq
        self.received += 1
        self._emit_one(seq, payload)
        out.append(payload)
        return out

"""Jitter buffer: reorder, duplicates, late packets, loss fill, bounded depth, wrap-around, restarts."""
from __future__ import annotations

from typing import Any

import pytest

from flowengine.media.jitter import MAX_FILL, REPEAT_LIMIT, JitterBuffer

SILENCE = b"\xff" * 4


def frame(seq: int) -> bytes:
    return seq.to_bytes(4, "big")


def feed(jb: JitterBuffer, seqs: list[int]) -> list[bytes]:
    out: list[bytes] = []
    for seq in seqs:
        out.extend(jb.push(seq & 0xFFFF, frame(seq & 0xFFFF)))
    return out


def test_in_order_packets_come_out_immediately() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=4)
    for seq in range(100, 110):
        assert jb.push(seq, frame(seq)) == [frame(seq)]
    assert (jb.emitted, jb.lost, jb.late, jb.duplicate, len(jb)) == (10, 0, 0, 0, 0)


def test_reordered_packets_are_put_back_in_order() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=4)
    out = feed(jb, [10, 12, 13, 11, 14, 16, 15])
    assert out == [frame(s) for s in range(10, 17)]
    assert jb.lost == 0


def test_duplicates_are_dropped_whether_waiting_or_already_played() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=4)
    out = feed(jb, [1, 2, 2, 4, 4, 3, 1])
    assert out == [frame(s) for s in (1, 2, 3, 4)]
    assert jb.duplicate == 3
    assert jb.late == 0


def test_loss_is_filled_with_silence_once_capacity_packets_wait() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=3)
    assert feed(jb, [0, 2, 3]) == [frame(0)]  # 1 may still come
    assert jb.push(4, frame(4)) == [SILENCE, frame(2), frame(3), frame(4)]
    assert jb.lost == 1
    assert len(jb) == 0


def test_packet_arriving_after_it_was_declared_lost_is_late() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=2)
    feed(jb, [0, 2, 3])
    assert jb.push(1, frame(1)) == []
    assert (jb.lost, jb.late, jb.duplicate) == (1, 1, 0)


def test_repeat_fill_repeats_last_frame_then_falls_back_to_silence() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=1, fill="repeat")
    gap = REPEAT_LIMIT + 2
    out = feed(jb, [0, gap + 1])
    assert out == [frame(0)] + [frame(0)] * REPEAT_LIMIT + [SILENCE] * (gap - REPEAT_LIMIT) + [frame(gap + 1)]
    assert jb.lost == gap


def test_depth_is_bounded() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=5)
    jb.push(0, frame(0))
    for seq in range(2, 200):
        jb.push(seq, frame(seq))
        assert len(jb) < 5
    assert jb.lost == 1


def test_sequence_wrap_around() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=4)
    seqs = [65533, 65535, 65534, 0, 2, 1, 3]
    out = feed(jb, seqs)
    assert out == [frame(s) for s in (65533, 65534, 65535, 0, 1, 2, 3)]
    assert jb.push(65535, frame(65535)) == []
    assert jb.duplicate == 1 and jb.lost == 0


def test_loss_across_wrap_around() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=2)
    out = feed(jb, [65534, 0, 1])
    assert out == [frame(65534), SILENCE, frame(0), frame(1)]
    assert jb.lost == 1


def test_huge_jump_restarts_the_stream_instead_of_filling() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=4)
    feed(jb, [100, 101])
    assert jb.push(20000, frame(20000)) == [frame(20000)]
    assert jb.restarts == 1 and jb.lost == 0
    assert jb.push(20001, frame(20001)) == [frame(20001)]


def test_long_gap_fills_at_most_max_fill_frames() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=1)
    out = feed(jb, [0, 1000])
    assert out.count(SILENCE) == MAX_FILL
    assert jb.lost == 999


def test_flush_emits_waiting_packets_with_gaps_filled() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=8)
    feed(jb, [0, 3, 2])
    assert jb.flush() == [SILENCE, frame(2), frame(3)]
    assert len(jb) == 0


def test_reset_starts_a_new_sequence() -> None:
    jb = JitterBuffer(silence=SILENCE, capacity=4)
    feed(jb, [5000, 5001])
    jb.reset()
    assert jb.push(7, frame(7)) == [frame(7)]
    assert jb.late == 0


@pytest.mark.parametrize(("kwargs", "message"), [({"capacity": 0}, "capacity must be at least 1, got 0"), ({"fill": "noise"}, "fill must be 'silence' or 'repeat', got 'noise'")])
def test_bad_configuration(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        JitterBuffer(silence=SILENCE, **kwargs)
    assert str(excinfo.value) == message


def test_take_in_order_is_push_for_the_expected_packet_only() -> None:
    # The receiver's fast path (take_in_order, else push) gives what push alone gives.
    seqs = [65534, 65535, 0, 2, 1, 1, 3, 5, 6, 7, 8, 9, 4, 10, 11, 30000, 30001]
    fast, slow = JitterBuffer(silence=SILENCE, capacity=3), JitterBuffer(silence=SILENCE, capacity=3)
    out_fast: list[bytes] = []
    taken = 0
    for seq in seqs:
        if fast.take_in_order(seq, frame(seq)):
            taken += 1
            out_fast.append(frame(seq))
        else:
            out_fast.extend(fast.push(seq, frame(seq)))
    assert out_fast == feed(slow, seqs)
    assert fast.counters() == slow.counters()
    assert 0 < taken < len(seqs)
    # Nothing known yet, or something waiting: it declines and changes nothing.
    fresh = JitterBuffer(silence=SILENCE, capacity=3)
    assert not fresh.take_in_order(1, frame(1)) and fresh.counters()["jitter_received"] == 0
    waiting = JitterBuffer(silence=SILENCE, capacity=3)
    feed(waiting, [1, 3])
    assert not waiting.take_in_order(2, frame(2)) and len(waiting) == 1

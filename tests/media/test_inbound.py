"""The inbound batch cut in slices (a tick's work past its slice continues on the next loop iteration) and the\nreceiver locking onto its peer's SSRC."""
from __future__ import annotations

import asyncio

from flowengine.media.codecs import get_codec
from flowengine.media.inbound import SSRC_PROBATION, InboundBatch, Receiver


async def test_work_past_a_slice_continues_later_and_nothing_is_taken_twice() -> None:
    codec = get_codec("ulaw")
    batch = InboundBatch(group_size=4, slice_seconds=0.0)  # every group uses up its slice
    heard = [0] * 10
    receivers = [Receiver(codec, batch, on_audio=lambda f, k=k: heard.__setitem__(k, heard[k] + 1))
                 for k in range(10)]
    for receiver in receivers:
        receiver._queue([codec.silence])
    batch.process()
    assert heard == [1] * 4 + [0] * 6  # one group, then the rest is left to the loop
    assert batch.continuations == 1
    batch.process()  # a tick while a continuation is pending does not run it early or twice
    assert heard == [1] * 4 + [0] * 6
    for _ in range(5):
        await asyncio.sleep(0)
    assert heard == [1] * 10 and batch.continuations == 2 and not batch.ready
    receivers[0]._queue([codec.silence])  # the next tick starts afresh
    batch.process()
    assert heard == [2] + [1] * 9


def _receiver() -> Receiver:
    """A receiver whose `pending` payloads are what the next tick would decode."""
    return Receiver(get_codec("ulaw"), InboundBatch())


def _frame(n: int) -> bytes:
    return bytes([n & 0xFF]) * 160


def test_a_stray_ssrc_is_dropped_and_the_locked_stream_goes_on() -> None:
    receiver = _receiver()
    for seq in range(100, 103):
        receiver.on_packet(0, 0, seq, seq * 160, 0xAAAA, _frame(seq))
    receiver.on_packet(0, 0, 5000, 0, 0xBBBB, _frame(1))  # a stray of another source
    receiver.on_packet(0, 0, 104, 104 * 160, 0xAAAA, _frame(104))  # 103 is late, still in the buffer's reach
    receiver.on_packet(0, 0, 103, 103 * 160, 0xAAAA, _frame(103))
    assert receiver.pending == [_frame(seq) for seq in range(100, 105)]  # nothing reset, nothing lost
    counters = receiver.counters()
    assert counters["ssrc_changes"] == 0 and counters["jitter_restarts"] == 0 and counters["jitter_lost"] == 0
    receiver.on_packet(0, 0, 7000, 0, 0xCCCC, _frame(2))  # another stray: the first is given up, dropped
    assert receiver.counters()["ssrc_strays"] == 1


def test_a_new_ssrc_in_sequence_is_taken_after_its_probation_with_nothing_lost() -> None:
    receiver = _receiver()
    for seq in range(100, 103):
        receiver.on_packet(0, 0, seq, seq * 160, 0xAAAA, _frame(seq))
    # Asterisk re-bridged the channel: a new source and sequence
    for k, seq in enumerate(range(9000, 9000 + SSRC_PROBATION)):
        receiver.on_packet(0, 0, seq, k * 160, 0xBBBB, _frame(seq))
    receiver.on_packet(0, 0, 9000 + SSRC_PROBATION, 0, 0xBBBB, _frame(9000 + SSRC_PROBATION))
    assert receiver.pending == [_frame(seq) for seq in (*range(100, 103), *range(9000, 9001 + SSRC_PROBATION))]
    counters = receiver.counters()
    assert counters["ssrc_changes"] == 1 and counters["ssrc_strays"] == 0
    receiver.on_packet(0, 0, 103, 0, 0xAAAA, _frame(103))  # the old source is now the stray
    assert len(receiver.pending) == 3 + SSRC_PROBATION + 1


def test_packets_of_a_new_ssrc_out_of_sequence_are_not_learned() -> None:
    receiver = _receiver()
    receiver.on_packet(0, 0, 1, 0, 0xAAAA, _frame(1))
    for seq in (500, 502, 504, 506, 508, 510):  # never two in sequence
        receiver.on_packet(0, 0, seq, 0, 0xBBBB, _frame(seq))
    counters = receiver.counters()
    assert counters["ssrc_changes"] == 0 and counters["ssrc_strays"] == 5
    assert receiver.pending == [_frame(1)]

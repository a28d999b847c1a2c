"""The inbound batch cut in slices: a tick's work past its slice continues on the next loop iteration."""
from __future__ import annotations

import asyncio

from flowengine.media.codecs import get_codec
from flowengine.media.inbound import InboundBatch, Receiver


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

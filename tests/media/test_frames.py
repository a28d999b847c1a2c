"""MediaInbox: bounded, drops oldest frames (never VAD events), async iteration, close."""
from __future__ import annotations

import asyncio

import numpy as np

from flowengine.media.frames import AudioFrame, MediaInbox
from flowengine.media.vad import SpeechStarted, VadEvent


def frame(t_ms: int) -> AudioFrame:
    return AudioFrame(np.zeros(320, dtype=np.int16), t_ms)


async def test_iterates_in_order_until_closed() -> None:
    inbox = MediaInbox()
    items: list[AudioFrame | VadEvent] = [frame(0), SpeechStarted(40, 0), frame(20)]
    for item in items:
        inbox.put(item)
    inbox.close()
    assert [item async for item in inbox] == items


async def test_overflow_drops_the_oldest_frames_but_keeps_events() -> None:
    inbox = MediaInbox(maxsize=3)
    event = SpeechStarted(0, 0)
    inbox.put(event)
    for t in range(0, 100, 20):
        inbox.put(frame(t))
    assert inbox.dropped == 3
    assert [getattr(i, "t_ms", None) for i in inbox._items] == [0, 60, 80]
    assert inbox._items[0] is event


async def test_get_waits_for_a_put() -> None:
    inbox = MediaInbox()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put(frame(0))
    item = await asyncio.wait_for(getter, 1)
    assert isinstance(item, AudioFrame) and item.t_ms == 0

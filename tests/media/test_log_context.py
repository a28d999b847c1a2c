"""Two calls on one media clock: what each session's callbacks log names its own call, not the clock's starter."""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Hashable

import numpy as np

from flowengine.logs import ContextFilter, log_context
from flowengine.media.clock import MediaClock
from flowengine.media.frames import AudioFrame
from flowengine.media.rtp import RtpPacket
from flowengine.media.session import MediaSession
from flowengine.media.vad import VadEvent
from tests.support import eventually

log = logging.getLogger("flowengine.test.media")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(ContextFilter())
        self.seen: list[tuple[str, str]] = []  # (message, call_id of the record's context)

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), getattr(record, "context", {}).get("call_id", "")))


async def test_each_session_logs_with_its_own_call_ids() -> None:
    records = Records()
    log.addHandler(records)
    log.setLevel(logging.INFO)
    clock = MediaClock()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    sessions: dict[str, MediaSession] = {}
    spawned: list[asyncio.Task[None]] = []

    async def later(name: str) -> None:
        log.info("task started from %s's tick", name)

    def handlers(name: str) -> dict[str, object]:
        def on_audio(frame: AudioFrame) -> None:
            if frame.t_ms == 0:
                log.info("first audio of %s", name)
                spawned.append(asyncio.get_running_loop().create_task(later(name)))

        def on_event(event: VadEvent) -> None:
            log.info("vad event of %s", name)

        def on_mark(mark: Hashable) -> None:
            log.info("mark of %s", name)

        return {"on_audio": on_audio, "on_event": on_event, "on_mark": on_mark}

    async def call(name: str, started: asyncio.Event) -> None:
        with log_context(call_id=f"call-{name}"):
            session = MediaSession(clock=clock, name=name, vad_backend=None, **handlers(name))  # type: ignore[arg-type]
            await session.start()
            session.set_remote("127.0.0.1", peer.getsockname()[1])
            sessions[name] = session
            started.set()

    try:
        # A starts the shared clock's task; B joins later from its own call's task.
        for name in ("A", "B"):
            started = asyncio.Event()
            await asyncio.get_running_loop().create_task(call(name, started))
            await started.wait()
        for name, session in sessions.items():
            packet = RtpPacket(payload_type=0, marker=1, sequence_number=1, timestamp=0, ssrc=7, payload=b"\xff" * 160)
            peer.sendto(packet.serialize(), ("127.0.0.1", session.local_port))
            session.play(np.zeros(320, dtype=np.int16), mark=f"m-{name}")
            session.flush_output()
        await eventually(lambda: len({m for m, _ in records.seen}) >= 6, 5, what="six distinct records")
        await asyncio.gather(*spawned)
    finally:
        for session in sessions.values():
            await session.aclose()
        await clock.aclose()
        peer.close()
        log.removeHandler(records)
    by_call = {message: call_id for message, call_id in records.seen}
    assert by_call == {
        "first audio of A": "call-A", "first audio of B": "call-B",
        "mark of A": "call-A", "mark of B": "call-B",
        "task started from A's tick": "call-A", "task started from B's tick": "call-B",
    }


"""Small helpers shared by tests: bounded polling, processes of a private Asterisk, a caller in Stasis."""
from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import StasisStart
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.flow.model import Flow


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0,
                     what: str = "condition", interval: float = 0.05) -> None:
    """Poll `predicate` (plain or async) until true; fail after `timeout` seconds. For state the test
    observes from outside (Asterisk, the store, another process), where there is nothing to await."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(interval)


def hangups_answered_late(monkeypatch: Any, delay_s: float = 0.5) -> None:
    """Every channel hangup of the test returns `delay_s` after Asterisk took it: its events (StasisEnd) come
    first, as they can on a loaded machine, and an action that hangs up is tested for that order."""
    hangup = ChannelHandle.hangup

    async def answered_late(self: ChannelHandle, reason: str = "normal") -> bool:
        gone = await hangup(self, reason)
        await asyncio.sleep(delay_s)
        return gone

    monkeypatch.setattr(ChannelHandle, "hangup", answered_late)


def processes_using(conf_file: Path) -> list[int]:
    """Pids of processes whose command line names this asterisk.conf."""
    pids = []
    needle = str(conf_file).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and b"-rx" not in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


def open_sockets(to_ports: Collection[int]) -> int:
    """TCP sockets this process holds open to any of `to_ports` (on any address). Only those: the rest
    of a test session (pools, servers of other fixtures) opens and closes sockets of its own."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if fields[9] in inodes and remote_port in to_ports:
                    count += 1
    return count


class Flows:
    """An in-memory flow source (what the flow directory is to the engine)."""

    def __init__(self, *flows: Flow) -> None:
        self.by_id: dict[str, Flow] = {f.id: f for f in flows if f.id}

    def add(self, data: dict[str, Any]) -> Flow:
        flow = Flow.model_validate({"name": data.get("id", "f"), **data})
        assert flow.id
        self.by_id[flow.id] = flow
        return flow

    def get_flow(self, flow_id: str) -> Flow | None:
        return self.by_id.get(flow_id)


async def stasis_call(ari: AriClient) -> str:
    """A caller that stays on the line, in `ari`'s application: its channel id once in Stasis."""
    entered = asyncio.get_running_loop().create_future()
    sub = ari.subscribe(lambda e: entered.done() or not isinstance(e, StasisStart) or entered.set_result(e.channel.id))
    try:
        await ari.channels.originate("Local/wait@flowengine-test", formats="ulaw")
        return str(await asyncio.wait_for(entered, 10))
    finally:
        sub.close()

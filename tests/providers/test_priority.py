"""Thread priorities: inference behind the media clock, and no harm where the process may not raise a priority."""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from flowengine.providers import priority


@pytest.fixture(autouse=True)
def _loop_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(priority, "_loop_raised", False)


def test_a_background_worker_runs_at_the_background_nice_value() -> None:
    with ThreadPoolExecutor(1, initializer=priority.background_thread) as pool:
        tid, nice = pool.submit(lambda: (threading.get_native_id(),
                                         os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))).result()
    assert tid != threading.get_native_id()
    assert nice == priority.BACKGROUND_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != priority.BACKGROUND_NICE  # only that thread


def test_once_the_loop_is_raised_background_workers_keep_the_ordinary_priority(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(priority, "_loop_raised", True)
    with ThreadPoolExecutor(1, initializer=priority.background_thread) as pool:
        assert pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result() == 0


def test_threads_a_background_worker_creates_inherit_its_priority() -> None:
    def child_nice() -> int:
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        t.start()
        t.join()
        return seen[0]

    with ThreadPoolExecutor(1, initializer=priority.background_thread) as pool:
        assert pool.submit(child_nice).result() == priority.BACKGROUND_NICE


def test_without_cap_sys_nice_the_request_is_refused_quietly(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tuple[int, int, int]] = []

    def denied(which: int, who: int, nice: int) -> None:
        calls.append((which, who, nice))
        raise PermissionError(1, "Operation not permitted")

    priority._warned.clear()
    with caplog.at_level(logging.WARNING, logger="flowengine.providers.priority"):
        assert not priority.set_thread_nice(-10, setpriority=denied, getpriority=lambda which, who: 0)
        assert not priority.set_thread_nice(-10, setpriority=denied, getpriority=lambda which, who: 0)
    assert len(calls) == 2
    warnings = [r for r in caplog.records if "CAP_SYS_NICE" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per thread


def test_a_thread_that_is_gone_is_not_an_error() -> None:
    def gone(which: int, who: int, nice: int) -> None:
        raise ProcessLookupError(3, "No such process")

    assert not priority.set_thread_nice(5, tid=1 << 22, setpriority=gone, getpriority=lambda which, who: 0)


def test_a_platform_without_priorities_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "setpriority")
    assert not priority.set_thread_nice(priority.BACKGROUND_NICE)


_GETPRIORITY = os.getpriority


def _nice() -> int:
    return _GETPRIORITY(os.PRIO_PROCESS, threading.get_native_id())


def _in_own_loop_thread(main: object) -> object:
    """Runs coroutine function `main` on a fresh thread and loop (the test's own thread keeps its priority)."""
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(asyncio.run(main())))  # type: ignore[operator]
    t.start()
    t.join()
    return out[0]


def test_the_loop_runs_ahead_and_its_executor_at_the_ordinary_priority() -> None:
    async def main() -> tuple[bool, int, int]:
        raised = priority.prioritise_loop(asyncio.get_running_loop())
        return raised, _nice(), await asyncio.to_thread(_nice)

    raised, loop_nice, worker_nice = _in_own_loop_thread(main)  # type: ignore[misc]
    if raised:  # this process may raise a priority (CAP_SYS_NICE)
        assert (loop_nice, worker_nice) == (priority.MEDIA_NICE, 0)
    else:
        assert loop_nice == worker_nice


def test_without_cap_sys_nice_the_loop_and_its_executor_stay_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(which: int, who: int, nice: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", denied)
    # whatever this thread's nice value (an engine started in this process may have raised it), never "already so"
    monkeypatch.setattr(os, "getpriority", lambda which, who: 19)

    async def main() -> tuple[bool, int, int]:
        before = _nice()
        raised = priority.prioritise_loop(asyncio.get_running_loop())
        assert _nice() == before
        return raised, before, await asyncio.to_thread(_nice)

    raised, before, worker_nice = _in_own_loop_thread(main)  # type: ignore[misc]
    assert not raised
    assert worker_nice == before


def test_a_realtime_loop_starts_ordinary_threads() -> None:
    def main_sched() -> tuple[bool, int, int]:
        ok = priority.set_thread_realtime()
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0)))
        t.start()
        t.join()
        return ok, os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK, seen[0]

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: the test's thread stays ordinary
        ok, mine, child = pool.submit(main_sched).result()
    if ok:  # this process may (CAP_SYS_NICE)
        assert mine == os.SCHED_RR
        assert child == os.SCHED_OTHER  # SCHED_RESET_ON_FORK: what the loop starts is not real-time
    else:
        assert mine == os.SCHED_OTHER


def test_without_the_right_a_realtime_loop_falls_back_to_nice(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    def refused(pid: int, policy: int, param: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refused)
    priority._warned.clear()

    async def main() -> tuple[bool, int]:
        return priority.prioritise_loop(asyncio.get_running_loop(), realtime=True), _nice()

    with caplog.at_level(logging.WARNING, logger="flowengine.providers.priority"):
        raised, nice = _in_own_loop_thread(main)  # type: ignore[misc]
    assert any("real-time" in r.getMessage() for r in caplog.records)
    if raised:
        assert nice == priority.MEDIA_NICE

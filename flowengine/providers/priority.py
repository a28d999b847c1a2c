"""Thread scheduling priority: inference threads yield the CPU to the event loop that runs the media clock.

Linux schedules threads, and `setpriority(PRIO_PROCESS, tid)` sets one thread's nice value; threads
a thread creates afterwards (CTranslate2's and onnxruntime's compute pools) inherit it. Raising a
nice value (lower priority) is always allowed; lowering it below the current one needs
CAP_SYS_NICE (or RLIMIT_NICE): without it the request is refused, logged once, and nothing else
changes.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

BACKGROUND_NICE = 10  # inference, when the loop cannot be raised: CFS weight 110 against the loop's 1024
MEDIA_NICE = -10  # the event loop's thread (media clock), where the process may raise it (weight 9548)
# Once the loop runs at MEDIA_NICE, inference stays at the ordinary priority: the loop is ahead of it by the
# same ten levels, and inference keeps its fair share against the host's other processes (measured on a shared
# host: at +10 whisper waited behind them, STT p95 of one call 456 -> 1533 ms).
_loop_raised = False

_warned: set[str] = set()

SetPriority = Callable[[int, int, int], None]
GetPriority = Callable[[int, int], int]


def set_thread_nice(nice: int, *, tid: int | None = None, setpriority: SetPriority | None = None,
                    getpriority: GetPriority | None = None) -> bool:
    """Give one thread (default: the calling one) the nice value `nice`; False when refused or unsupported."""
    setter = setpriority or getattr(os, "setpriority", None)
    getter = getpriority or getattr(os, "getpriority", None)
    if setter is None or getter is None:
        _warn_once("unsupported", "thread priorities are not supported on this platform; left as they are")
        return False
    thread = threading.get_native_id() if tid is None else tid
    try:
        if getter(os.PRIO_PROCESS, thread) == nice:
            return True
        setter(os.PRIO_PROCESS, thread, nice)
    except PermissionError:
        _warn_once(f"denied{nice}", f"cannot set a thread's nice value to {nice} (needs CAP_SYS_NICE); the "
                                    "media clock then shares the CPU evenly with speech work")
        return False
    except OSError as exc:  # the thread is gone, or the kernel refuses the value
        log.debug("setpriority(%d, %d) failed: %s", thread, nice, exc)
        return False
    return True


def background_thread() -> None:
    """For an executor's `initializer`: this worker (and the compute threads it creates) runs behind the loop."""
    set_thread_nice(0 if _loop_raised else BACKGROUND_NICE)


def normal_thread() -> None:
    """For an executor's `initializer`: this worker runs at the ordinary priority, whoever started it."""
    set_thread_nice(0)


def prioritise_loop(loop: asyncio.AbstractEventLoop, *, realtime: bool = False) -> bool:
    """On the loop's own thread: run it (the media clock, every call's packets) ahead of other work where the
    process may: real-time (`realtime`) else nice MEDIA_NICE. Threads it starts from now on would inherit a
    raised nice value, so the loop's default executor becomes one whose workers run at the ordinary priority.
    False (and nothing changed) when refused."""
    global _loop_raised
    if not (realtime and set_thread_realtime()) and not set_thread_nice(MEDIA_NICE):
        return False
    _loop_raised = True
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio", initializer=normal_thread))
    return True


REALTIME_PRIORITY = 5  # SCHED_RR, low among real-time threads (Asterisk's `-p` uses the same class)


def set_thread_realtime(priority: int = REALTIME_PRIORITY, *, tid: int | None = None) -> bool:
    """SCHED_RR for one thread (default: the calling one), with SCHED_RESET_ON_FORK so the threads it creates
    are ordinary ones. A real-time thread runs as soon as it wakes, whatever the other processes and sessions
    of the host (nice ranks threads only inside a session when the kernel groups CPU by session). The kernel
    still keeps 5 % of each second for ordinary threads. False when refused or unsupported."""
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None or not hasattr(os, "SCHED_RR"):
        return False
    policy = os.SCHED_RR | getattr(os, "SCHED_RESET_ON_FORK", 0)
    try:
        setter(threading.get_native_id() if tid is None else tid, policy, os.sched_param(priority))
    except PermissionError:
        _warn_once("denied-rt", "cannot make the media loop a real-time thread (needs CAP_SYS_NICE or "
                                "RLIMIT_RTPRIO); it runs at an ordinary priority instead")
        return False
    except OSError as exc:
        log.debug("sched_setscheduler(SCHED_RR, %d) failed: %s", priority, exc)
        return False
    return True


def loop_raised() -> bool:
    """Whether an event loop of this process runs at MEDIA_NICE."""
    return _loop_raised


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message)

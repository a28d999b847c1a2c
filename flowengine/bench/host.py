"""What the host gives the benchmark: the machine, CPU time stolen by other guests, and how late an idle timer wakes."""
from __future__ import annotations

import math
import os
import platform
import select
import time
from typing import Any

import numpy as np

from flowengine.media import timerfd

FLOOR_PERIOD = 0.020
FLOOR_MAX_SECONDS = 60.0


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def cpu_steal_seconds() -> float | None:
    """CPU time the hypervisor gave other guests while this one wanted it (`steal` in
    /proc/stat, all CPUs), or None where the kernel does not report it."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def timer_floor(seconds: float) -> dict[str, Any] | None:
    """Wake-up lateness of an idle process on the media clock's own timer (a timerfd every 20 ms,
    nothing else running in it) over `seconds`: p50/p99/max in ms.

    No send can be more punctual than the wake-up before it, so this is the host's floor under
    the engine's send jitter: a p99 here above 2 ms means no process on this host meets the
    target in that minute, whatever it does. None where timerfd is missing (not Linux).
    """
    if not timerfd.available() or seconds <= 0:
        return None
    seconds = min(seconds, FLOOR_MAX_SECONDS)
    timer = timerfd.TimerFd()
    poller = select.poll()
    poller.register(timer.fd, select.POLLIN)
    lateness: list[float] = []
    try:
        start = time.monotonic() + FLOOR_PERIOD
        for n in range(max(1, int(seconds / FLOOR_PERIOD))):
            deadline = start + n * FLOOR_PERIOD
            timer.set_at(deadline)
            while not poller.poll(1000):  # bounded: a timer that never fires ends the wait each second
                if time.monotonic() > deadline + 1.0:
                    break
            timer.consume()
            lateness.append(max(0.0, time.monotonic() - deadline))
    finally:
        timer.close()
    values = np.array(lateness) * 1000
    return {
        "seconds": round(len(values) * FLOOR_PERIOD, 2),
        "wakes": len(values),
        "p50": round(float(np.percentile(values, 50)), 3),
        "p99": round(float(np.percentile(values, 99)), 3),
        "max": round(float(values.max()), 3) if len(values) else math.nan,
    }

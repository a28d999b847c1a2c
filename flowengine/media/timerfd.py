"""Linux timerfd through ctypes: a wake-up at an absolute monotonic time with nanosecond precision."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# Python exposes timerfd only from 3.13 (os.timerfd_create). asyncio's own timers wake up
# through epoll_wait, whose timeout has millisecond granularity and is rounded up: a tick
# scheduled with call_at() fires 0-1 ms late. A timerfd registered as a reader makes epoll
# return at the deadline itself.
CLOCK_MONOTONIC = 1
TFD_TIMER_ABSTIME = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_create.restype = ctypes.c_int
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
        libc.timerfd_settime.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def available() -> bool:
    return _LIBC is not None


class TimerFd:
    """A one-shot timer on CLOCK_MONOTONIC (the clock of `time.monotonic()` on Linux)."""

    def __init__(self) -> None:
        if _LIBC is None:
            raise OSError("timerfd is not available on this platform")
        fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_create: {os.strerror(err)}")
        self.fd = fd
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)

    def set_at(self, when: float) -> None:
        """Become readable at monotonic time `when` (at once if it has passed)."""
        assert _LIBC is not None
        seconds = int(when)
        nanoseconds = int((when - seconds) * 1e9)
        if seconds <= 0 and nanoseconds <= 0:
            nanoseconds = 1  # zero would disarm the timer
        value = self._spec.it_value
        value.tv_sec = seconds
        value.tv_nsec = nanoseconds
        if _LIBC.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, self._spec_ref, None) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")

    def consume(self) -> int:
        """Acknowledge the expiry; returns how many expiries were pending (0 if none)."""
        try:
            return int.from_bytes(os.read(self.fd, 8), sys.byteorder)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

"""numpy's OpenBLAS thread count: on the calling thread for the media engine's small products, and one thread for
good where inference runs (its idle helper threads spin after every call, on cores the work needs)."""
from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy  # noqa: F401  (loads the BLAS library this process uses)

log = logging.getLogger(__name__)

# numpy's wheels ship OpenBLAS as scipy-openblas (64-bit ints, prefixed symbols); a system numpy may link a plain
# OpenBLAS. Other BLAS libraries are left alone.
_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "_64_", "")
MAPS = "/proc/self/maps"


def loaded_openblas(maps: str = MAPS) -> list[str]:
    """Paths of the OpenBLAS libraries this process has loaded (Linux; empty elsewhere)."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as lines:
            paths = {line.split()[-1] for line in lines if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(path for path in paths if "openblas" in os.path.basename(path).lower())


def _function(library: ctypes.CDLL, verb: str) -> Any:
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            fn = getattr(library, f"{prefix}_{verb}_num_threads{suffix}", None)
            if fn is not None:
                return fn
    return None


def _libraries() -> list[tuple[Any, Any]]:
    """(getter, setter) of each loaded OpenBLAS that exports both."""
    found = []
    for path in loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError as exc:
            log.debug("cannot open %s: %s", path, exc)
            continue
        getter, setter = _function(library, "get"), _function(library, "set")
        if getter is not None and setter is not None:
            getter.restype = ctypes.c_int
            setter.argtypes = [ctypes.c_int]
            setter.restype = None
            found.append((getter, setter))
    return found


_FUNCS: tuple[Any, Any] | None = next(iter(_libraries()), None)  # numpy's own


def blas_threads() -> dict[str, int]:
    """Each loaded OpenBLAS and the number of threads it uses now."""
    found: dict[str, int] = {}
    for path in loaded_openblas():
        get = _function(ctypes.CDLL(path), "get")
        if get is not None:
            get.restype = ctypes.c_int
            found[path] = int(get())
    return found


def limit_blas_threads(threads: int = 1) -> int:
    """Every loaded OpenBLAS to `threads` threads, for good; returns how many libraries were set. Libraries loaded
    later (scipy's, on first use) keep their default: call again after loading them. Whisper's log-mel features are
    one product per utterance, whose OpenBLAS helper then spun 45-60 ms of CPU (docs/decisions.md, "Where Whisper's
    CPU per utterance went"); OPENBLAS_NUM_THREADS does the same only when set before numpy is imported."""
    libraries = _libraries()
    for _, setter in libraries:
        setter(threads)
    return len(libraries)


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block's BLAS calls on this thread only.

    OpenBLAS splits even a 300x191x160 product over every core, and on a busy 2-core
    machine the hand-off costs 6x the product itself (2.9 ms instead of 0.45 ms here).
    The setting is process-wide, so it is restored on exit.
    """
    if _FUNCS is None:
        yield
        return
    getter, setter = _FUNCS
    before = getter()
    if before == 1:
        yield
        return
    setter(1)
    try:
        yield
    finally:
        setter(before)

"""numpy's BLAS on one thread: OpenBLAS's idle helper threads spin after every call, on cores inference needs.

numpy (and scipy) bundle OpenBLAS built with its own pthreads pool, one thread per core. A matrix
product above a small size is split across the pool, and each helper then busy-waits for the next
job (up to ~2^28 cycles, ~0.1 s) before it sleeps. Whisper's log-mel features are one such product
per utterance: its helper spun 45-60 ms of CPU per utterance (docs/decisions.md, "Where Whisper's
CPU per utterance went"); all the features took ~8 ms on one thread. The environment variable
OPENBLAS_NUM_THREADS does the same, but only when set before numpy is imported; this sets the
libraries already loaded, at run time (as threadpoolctl does), through their exported setter.
"""
from __future__ import annotations

import ctypes
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

# The setter's name depends on how the library was built (numpy's and scipy's wheels rename their copies).
_PREFIXES = ("openblas", "scipy_openblas")
_SUFFIXES = ("", "64_", "_64_")
MAPS = "/proc/self/maps"


def loaded_openblas(maps: str = MAPS) -> list[str]:
    """Paths of the OpenBLAS libraries this process has loaded (Linux; empty elsewhere)."""
    try:
        with open(maps, encoding="utf-8") as lines:
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
    """Every loaded OpenBLAS to `threads` threads; returns how many libraries were set. Libraries loaded later
    (scipy's, on first use) keep their default: call again after loading them."""
    done = 0
    for path in loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError as exc:
            log.debug("cannot open %s: %s", path, exc)
            continue
        set_threads = _function(library, "set")
        if set_threads is None:
            continue
        set_threads.argtypes = [ctypes.c_int]
        set_threads(threads)
        done += 1
    return done

"""Keep OpenBLAS on the calling thread for the media engine's small matrix products."""
from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

# numpy's wheels ship OpenBLAS as scipy-openblas (64-bit ints, prefixed symbols); a system
# numpy may link a plain OpenBLAS. Other BLAS libraries are left alone.
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _openblas() -> tuple[Any, Any] | None:
    import numpy  # noqa: F401  (loads the BLAS library this process uses)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            getter, setter = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                return getter, setter
    return None


_FUNCS = _openblas()


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

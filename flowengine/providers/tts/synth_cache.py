"""Recently synthesised sentences: a sentence the dialogue says again (in any call) is not synthesised twice."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

DEFAULT_MAX_BYTES = 32 << 20  # ~ 10 minutes of 22.05 kHz speech


class SynthesisCache:
    """Least-recently-used audio by (voice, text), bounded by bytes. The offline receptionist's replies are
    templates (measured: piper was ~8x whisper's CPU at 10 calls, most of it the same sentences again)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], tuple[npt.NDArray[np.int16], ...]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, voice: str, text: str) -> list[npt.NDArray[np.int16]] | None:
        """Copies of the cached chunks (the caller may change them), or None."""
        chunks = self._items.get((voice, text))
        if chunks is None:
            self.misses += 1
            return None
        self._items.move_to_end((voice, text))
        self.hits += 1
        return [chunk.copy() for chunk in chunks]

    def put(self, voice: str, text: str, chunks: list[npt.NDArray[np.int16]]) -> None:
        size = sum(chunk.nbytes for chunk in chunks)
        if not self.max_bytes or size > self.max_bytes or (voice, text) in self._items:
            return
        self._items[(voice, text)] = tuple(chunk.copy() for chunk in chunks)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= sum(chunk.nbytes for chunk in dropped)

    def resize(self, max_bytes: int) -> None:
        """A new bound (0: off); what no longer fits is dropped, oldest first."""
        self.max_bytes = max_bytes
        while self._items and self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= sum(chunk.nbytes for chunk in dropped)

    def __len__(self) -> int:
        return len(self._items)


# The offline voice's cache. Off unless the engine turns it on (`Engine.start`): a benchmark or test that
# synthesises the same sentence again to time the voice must not be timing the cache.
SHARED = SynthesisCache(max_bytes=0)

"""The media engine's C kernel (`_native_inbound.c`, built by `pip install`), or None where it was not built."""
from __future__ import annotations

import importlib
import logging
from typing import Protocol

logger = logging.getLogger(__name__)


class InboundKernel(Protocol):
    def upsample_g711(
        self,
        payloads: bytes,
        table: object,
        phase: object,
        scale: float,
        histories: object,
        slots: object,
        pcm: object,
        wide: object,
        powers: object,
        /,
    ) -> None: ...


def _load() -> InboundKernel | None:
    try:
        kernel: InboundKernel = importlib.import_module("flowengine.media._native_inbound")
    except ImportError as exc:
        # A source tree used without `pip install`: the numpy path computes the same frames.
        logger.warning("media engine: native inbound kernel not built (%s); using numpy, ~3 us more per frame", exc)
        return None
    return kernel


inbound: InboundKernel | None = _load()


def available() -> bool:
    return inbound is not None

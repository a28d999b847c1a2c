"""`default_stt`: an STT for a `stt_type`, falling back to the offline Whisper for known names that have no
provider here. The engine itself does not use it: its consumers ask flowengine.providers.catalogue, which
refuses such names with the reason instead of running them on another recogniser."""
from __future__ import annotations

import logging

from flowengine.providers.registry import UnknownProviderError
from flowengine.providers.stt.base import STT_PROVIDERS, STTProvider

log = logging.getLogger(__name__)


def default_stt(stt_type: str = "") -> STTProvider:
    """The provider for an AI's `stt_type`; unknown names (typos) raise UnknownProviderError."""
    from flowengine.providers.catalogue import STT  # the catalogue imports this package

    answer = STT.check(stt_type)
    if not answer.known:
        raise UnknownProviderError(f"unknown stt_type {stt_type!r}; known: {', '.join(STT.known())}")
    if answer.runs_here:
        return STT_PROVIDERS.create(answer.provider)
    log.info("stt_type %r has no provider here; using the offline %s", stt_type, STT.default)
    return STT_PROVIDERS.create(STT.default)

"""Which STT a call gets: its `stt_type` when a provider answers to it, else the offline Whisper."""
from __future__ import annotations

import logging

from flowengine.providers.registry import UnknownProviderError
from flowengine.providers.stt.base import STT_PROVIDERS, STTProvider

log = logging.getLogger(__name__)

OFFLINE_STT = "whisper"
# The AI seed's stt_type values (VoIPBIN defaults "" to deepgram). They are cloud services with no
# provider here yet, so they run on the offline recogniser, said once in the log, not silently.
SEED_STT_TYPES = frozenset({"", "cartesia", "deepgram", "elevenlabs", "google"})


def default_stt(stt_type: str = "") -> STTProvider:
    """The provider for an AI's `stt_type`; unknown names (typos) raise UnknownProviderError."""
    name = stt_type.strip().lower()
    if name in STT_PROVIDERS.names():
        return STT_PROVIDERS.create(name)
    if name in SEED_STT_TYPES:
        if name:
            log.info("stt_type %r has no provider here; using the offline %s", name, OFFLINE_STT)
        return STT_PROVIDERS.create(OFFLINE_STT)
    known = ", ".join(sorted(set(STT_PROVIDERS.names()) | SEED_STT_TYPES - {""}))
    raise UnknownProviderError(f"unknown stt_type {stt_type!r}; known: {known}")

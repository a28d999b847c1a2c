"""Chooses the STT, LLM and TTS of an AI call from its configuration; speech models are shared per process."""
from __future__ import annotations

import logging
from typing import Any

from flowengine.providers.llm.base import LLM_PROVIDERS, LLMConfigError, LLMProvider, ModelRef
from flowengine.providers.registry import UnknownProviderError
from flowengine.providers.stt.base import STT_PROVIDERS, STTError, STTProvider
from flowengine.providers.tts.base import TTS_PROVIDERS, TTSError, TTSProvider

log = logging.getLogger(__name__)

OFFLINE_TTS = {"": "piper", "piper": "piper", "espeak": "espeak"}
OFFLINE_STT = {"": "whisper", "whisper": "whisper"}


class ProviderUnavailable(ValueError):
    """The AI names a provider this engine cannot use; the message says which and what exists."""


class ProviderPool:
    """One STT and one TTS instance per provider name per process (models load once)."""

    def __init__(self) -> None:
        self._stt: dict[str, STTProvider] = {}
        self._tts: dict[str, TTSProvider] = {}

    def tts(self, tts_type: str) -> TTSProvider:
        name = OFFLINE_TTS.get(tts_type)
        if name is None:
            raise ProviderUnavailable(
                f"tts_type {tts_type!r} is not available in this engine; offline voices: piper, espeak")
        if name not in self._tts:
            try:
                self._tts[name] = TTS_PROVIDERS.create(name)
            except (UnknownProviderError, TTSError) as exc:
                raise ProviderUnavailable(str(exc)) from None
        return self._tts[name]

    def stt(self, stt_type: str) -> STTProvider:
        name = OFFLINE_STT.get(stt_type)
        if name is None:
            raise ProviderUnavailable(
                f"stt_type {stt_type!r} is not available in this engine; offline recogniser: whisper")
        if name not in self._stt:
            try:
                self._stt[name] = STT_PROVIDERS.create(name)
            except (UnknownProviderError, STTError) as exc:
                raise ProviderUnavailable(str(exc)) from None
        return self._stt[name]

    def llm(self, engine_model: str, api_key: str, parameter: dict[str, Any]) -> LLMProvider:
        try:
            ref = ModelRef.parse(engine_model)
            return LLM_PROVIDERS.create(ref.provider, model=ref.model, api_key=api_key, base_url="",
                                        parameter=parameter)
        except (UnknownProviderError, LLMConfigError) as exc:
            raise ProviderUnavailable(f"engine_model {engine_model!r}: {exc}") from None

    async def warm_up(self, tts_type: str = "", stt_type: str = "") -> None:
        """Loads the models of the default (or named) offline STT and TTS; failures are logged, the
        first call that needs the provider reports them again."""
        try:
            stt, tts = self.stt(stt_type), self.tts(tts_type)
            await stt.warm_up()
            await tts.warm_up()
        except (ProviderUnavailable, STTError, TTSError) as exc:
            log.warning("speech warm-up failed: %s", exc)
            return
        log.info("speech models loaded: %s, %s", stt.name, tts.name)

    async def aclose(self) -> None:
        for stt in self._stt.values():
            await stt.aclose()
        for tts in self._tts.values():
            await tts.aclose()

"""Chooses the STT, LLM and TTS of an AI call from its configuration (through the provider catalogue); speech
models are shared per process."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flowengine.providers import credentials
from flowengine.providers.catalogue import LLM, STT, TTS, Catalogue, ProviderUnavailableError
from flowengine.providers.llm.base import LLMConfigError, LLMProvider
from flowengine.providers.stt.base import STTError, STTProvider
from flowengine.providers.tts.base import TTSError, TTSProvider

log = logging.getLogger(__name__)
P = TypeVar("P", STTProvider, TTSProvider)

ProviderUnavailable = ProviderUnavailableError
"""The AI names a provider this engine cannot use; the message says which field, which value and why."""


OFFLINE_VOICES = ("piper", "espeak")  # who apologises when a call's own voice failed (the first available)


class ProviderPool:
    """One STT and one TTS instance per provider per process (models load once); `""` and aliases share
    the instance of the provider they stand for. `fallback_stt`/`fallback_tts` (config `speech.fallback_*`)
    take over a call whose own recogniser or voice failed for good."""

    def __init__(self, *, fallback_stt: str = "", fallback_tts: str = "") -> None:
        self._stt: dict[str, STTProvider] = {}
        self._tts: dict[str, TTSProvider] = {}
        self.fallback_stt_name = fallback_stt
        self.fallback_tts_name = fallback_tts

    def fallback_stt(self, own: str) -> STTProvider | None:
        """The recogniser that takes over from `own` (None: none configured, or it is `own` itself)."""
        return self._fallback(STT, self.fallback_stt_name, own, self.stt)

    def fallback_tts(self, own: str) -> TTSProvider | None:
        return self._fallback(TTS, self.fallback_tts_name, own, self.tts)

    def apology_voice(self, own: str) -> TTSProvider | None:
        """The offline voice that says the call cannot go on when `own` (the call's voice) failed."""
        for name in OFFLINE_VOICES:
            if TTS.check(name).available and TTS.resolve(name) != TTS.resolve(own):
                try:
                    return self.tts(name)
                except ProviderUnavailable:
                    continue
        return None

    @staticmethod
    def _fallback(catalogue: Catalogue[P], name: str, own: str, make: Callable[[str], P]) -> P | None:
        if not name or catalogue.resolve(name) == catalogue.resolve(own):
            return None
        try:
            return make(name)
        except ProviderUnavailable as exc:  # its key went missing since start: the call runs without one
            log.warning("fallback %s unavailable: %s", catalogue.kind, exc)
            return None

    def tts(self, tts_type: str) -> TTSProvider:
        return _shared(TTS, tts_type, self._tts)

    def stt(self, stt_type: str) -> STTProvider:
        vendor = STT.resolve(stt_type) or ""
        model = credentials.access(vendor).stt_model if vendor in credentials.ENVIRONMENT else ""
        return _shared(STT, stt_type, self._stt, model=model)

    def llm(self, engine_model: str, api_key: str, parameter: dict[str, Any]) -> LLMProvider:
        try:
            return LLM.create(engine_model, api_key=api_key, parameter=parameter)
        except LLMConfigError as exc:  # the catalogue's own refusals already name the field
            raise ProviderUnavailable(f"engine_model {engine_model!r}: {exc}") from None

    async def warm_up(self, tts_type: str = "", stt_type: str = "") -> None:
        """Loads the models of the default (or named) STT and TTS; failures are logged, the first call
        that needs the provider reports them again."""
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


def _shared(catalogue: Catalogue[P], name: str, made: dict[str, P], model: str = "") -> P:
    """`model`: the vendor's model the engine's configuration names ("" = the provider's default)."""
    provider = catalogue.resolve(name) or name  # an unknown name is refused by create, never kept
    if provider not in made:
        try:
            made[provider] = catalogue.create(name, model=model) if model else catalogue.create(name)
        except (STTError, TTSError) as exc:
            raise ProviderUnavailable(f"{catalogue.field} {name!r}: {exc}") from None
    return made[provider]

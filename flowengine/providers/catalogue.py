"""The provider catalogue: for every STT, TTS and LLM name users write, whether it exists, whether this engine
can use it with the current configuration and why not; and the one place providers are made from those names.

Every consumer asks here (the API's bodies, AI and team files, Vapi and VoiceOS front doors, `talk`, the AI
call's provider pool), so a name is accepted, refused or explained the same way everywhere. A name resolves
to a provider: the empty name to the engine's default (documented alias: VoIPBIN's empty `stt_type` and
`tts_type` mean "the default voice/recogniser"), a front door's spelling to the vendor (Vapi's `11labs` is
`elevenlabs`); never one vendor to another. Known names without a provider module here are refused with
the reason, not run on the offline default. Settings a call asks of a provider (an STT's `language`, a TTS's
`voice_id`) are checked by the provider itself (its registration's `supports`): a language its model cannot
do is refused naming that setting, so the field to blame is the language's, not the provider's."""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from flowengine.providers.llm import LLM_PROVIDERS, LLMConfigError, LLMProvider, ModelRef
from flowengine.providers.registry import ProviderRegistry
from flowengine.providers.stt import STT_PROVIDERS, STTProvider
from flowengine.providers.tts import TTS_PROVIDERS, TTSProvider
from flowengine.providers.vendors import LLM_VENDORS, STT_VENDORS, TTS_VENDORS, Vendor

T = TypeVar("T")
Kind = Literal["stt", "tts", "llm"]


class Status(enum.Enum):
    AVAILABLE = "available"  # a provider runs here and what it needs is present
    NEEDS_SETUP = "needs setup"  # a provider runs here but something it needs is missing now (a package, a key)
    UNSUPPORTED = "unsupported"  # a provider runs here but cannot do a setting asked of it (a language, a voice)
    NOT_IN_ENGINE = "not in this engine"  # a known name no provider module here runs
    UNKNOWN = "unknown"  # no such name (a typo, a vendor nobody listed, a malformed engine_model)


@dataclass(frozen=True)
class Availability:
    """The catalogue's answer for one name, as written."""

    kind: Kind
    written: str
    provider: str  # the engine's name for it ("" when unknown)
    status: Status
    reason: str = ""  # why it cannot be used now, in words a user can act on ("" when available)
    setting: str = ""  # UNSUPPORTED: the setting asked that the provider cannot do ("language", "voice_id")

    @property
    def known(self) -> bool:
        return self.status is not Status.UNKNOWN

    @property
    def runs_here(self) -> bool:
        """A provider module here answers to the name and can do what was asked of it (it may still need a key
        or a package)."""
        return self.status in (Status.AVAILABLE, Status.NEEDS_SETUP)

    @property
    def available(self) -> bool:
        return self.status is Status.AVAILABLE

    @property
    def definable(self) -> bool:
        """An AI (or assistant, agent, team member) may name it: a recogniser or voice must be available now
        (its key is the engine's: missing now, missing on the call); an LLM must run here (its key may be
        the AI's own engine_key, checked when a call is placed or started)."""
        return self.available if self.kind in ("stt", "tts") else self.runs_here

    def problem(self, field: str = "") -> str:
        """`tts_type 'azure' is not available: <reason>` (without `field`: `'azure' is not available: ...`)."""
        if self.available:
            return ""
        subject = f"{field} {self.written!r}" if field else repr(self.written)
        return f"{subject} is not available: {self.reason}"

    def blame(self, field: str, settings: Mapping[str, str] | None = None) -> tuple[str, str]:
        """(the field to change, why): the setting's own field (`settings`: setting -> field, e.g. `language` ->
        `stt_language`) when the provider cannot do that setting, else the name's `field` and `problem()`."""
        if self.status is Status.UNSUPPORTED and settings and self.setting in settings:
            return settings[self.setting], self.reason
        return field, self.problem() if self.status is not Status.UNSUPPORTED else self.reason


class ProviderUnavailableError(ValueError):
    """A name the engine cannot use now; the message names the field, the value and the reason."""

    def __init__(self, message: str, availability: Availability | None = None) -> None:
        super().__init__(message)
        self.availability = availability


class Catalogue(Generic[T]):
    """One kind's names: the registry (what runs here) and the vendor list (what users may write)."""

    def __init__(self, kind: Kind, registry: ProviderRegistry[T], vendors: tuple[Vendor, ...], *, field: str,
                 noun: str, default: str = "") -> None:
        self.kind = kind
        self.registry = registry
        self.field = field  # the AI field that names this kind (messages of `create`)
        self.noun = noun
        self.default = default  # what the empty name means ("" = the empty name is no provider)
        self._vendors = {v.name: v for v in vendors}
        self._aliases = {alias: v.name for v in vendors for alias in v.aliases}

    def resolve(self, name: str) -> str | None:
        """The engine's name for `name` (aliases and the empty default applied), None when unknown."""
        key = name.strip().lower()
        if not key:
            return self.default or None
        key = self._aliases.get(key, key)
        return key if key in self.registry or key in self._vendors else None

    def known(self) -> list[str]:
        return sorted(set(self.registry.names()) | set(self._vendors))

    def runnable(self) -> list[str]:
        """The names a provider module here answers to."""
        return self.registry.names()

    def check(self, name: str, **settings: object) -> Availability:
        """What `name` is here; `settings` are the factory's arguments (an LLM's api_key...) and what a call
        asks of the provider (an STT's `language`, a TTS's `voice_id`; empty values ask nothing)."""
        return self._check(name, name, settings)

    def create(self, name: str, *, field: str = "", **settings: object) -> T:
        """The provider `name` stands for; when it cannot be made now, ProviderUnavailableError naming `field`
        (default: the AI's field of this kind) and the reason."""
        return self.registry.create(self.require(name, field=field, **settings).provider, **settings)

    def require(self, name: str, *, field: str = "", **settings: object) -> Availability:
        """`check`, raising ProviderUnavailableError unless the name is available now."""
        answer = self.check(name, **settings)
        if not answer.available:
            raise ProviderUnavailableError(answer.problem(field or self.field), answer)
        return answer

    def _check(self, written: str, name: str, settings: Mapping[str, object]) -> Availability:
        provider = self.resolve(name)
        if provider is None:
            return Availability(self.kind, written, "", Status.UNKNOWN, self._unknown(name))
        if provider not in self.registry:
            vendor = self._vendors[provider]
            reason = vendor.reason or (f"this engine has no provider for {vendor.label} "
                                       f"(available here: {', '.join(self.runnable())})")
            return Availability(self.kind, written, provider, Status.NOT_IN_ENGINE, reason)
        cannot = self.registry.supports(provider, **settings)
        if cannot is not None:
            return Availability(self.kind, written, provider, Status.UNSUPPORTED, cannot[1], cannot[0])
        missing = self.registry.ready(provider, **settings)
        return Availability(self.kind, written, provider, Status.NEEDS_SETUP if missing else Status.AVAILABLE, missing)

    def _unknown(self, name: str) -> str:
        return (f"no {self.noun} is called {name.strip()!r} (known: {', '.join(self.known())}; "
                f"available here: {', '.join(self.runnable())})")


class ModelCatalogue(Catalogue[LLMProvider]):
    """LLMs are named by `engine_model` = `<provider>.<model>`: the provider part is the catalogue's name."""

    def check(self, name: str, **settings: object) -> Availability:
        try:
            ref = ModelRef.parse(name)
        except LLMConfigError:
            return Availability(self.kind, name, "", Status.UNKNOWN,
                                "it is not <provider>.<model> (e.g. openai.gpt-4o)")
        return self._check(name, ref.provider, {**settings, "model": ref.model})

    def create(self, name: str, *, field: str = "", **settings: object) -> LLMProvider:
        """`settings`: api_key ("" = the provider's variable), base_url ("" = its default), parameter (a mapping)."""
        answer = self.require(name, field=field, **settings)
        parameter = settings.get("parameter") or {}
        if not isinstance(parameter, Mapping):
            raise LLMConfigError(f"parameter must be a mapping, got {type(parameter).__name__}")
        return self.registry.create(answer.provider, model=ModelRef.parse(name).model,
                                    api_key=settings.get("api_key", ""), base_url=settings.get("base_url", ""),
                                    parameter=dict(parameter))


STT: Catalogue[STTProvider] = Catalogue("stt", STT_PROVIDERS, STT_VENDORS, field="stt_type",
                                        noun="speech recogniser", default="whisper")
TTS: Catalogue[TTSProvider] = Catalogue("tts", TTS_PROVIDERS, TTS_VENDORS, field="tts_type", noun="voice",
                                        default="piper")
LLM = ModelCatalogue("llm", LLM_PROVIDERS, LLM_VENDORS, field="engine_model", noun="LLM provider")
CATALOGUES: dict[Kind, Catalogue[Any]] = {"stt": STT, "tts": TTS, "llm": LLM}


def check(kind: Kind, name: str, **settings: object) -> Availability:
    """What `name` (a `stt_type`, `tts_type` or `engine_model`) is here."""
    return CATALOGUES[kind].check(name, **settings)

"""Provider registries keyed by the names users write (`tts_type`, `stt_type`, engine providers): each
name's factory, what it needs to run here and what it can do."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

Ready = Callable[..., str]
"""Called with the factory's keyword arguments: "" when the provider can be made now, else what is
missing, in words a user can act on (a package to install, a key to set). It must be cheap: it looks,
it does not load."""

Supports = Callable[..., tuple[str, str] | None]
"""Called with the factory's keyword arguments and what a call asks of the provider (an STT's `language`, a
TTS's `voice_id`): None when it can do all of it, else (the setting, why not) for the first one it cannot,
the reason naming the value. Like `Ready` it looks, it does not load."""


def always_ready(**_: object) -> str:
    return ""


def supports_anything(**_: object) -> tuple[str, str] | None:
    return None


class UnknownProviderError(LookupError):
    """A provider name no registry entry answers to."""


@dataclass(frozen=True)
class Registration(Generic[T]):
    factory: Callable[..., T]
    ready: Ready
    supports: Supports = supports_anything


class ProviderRegistry(Generic[T]):
    """name -> factory and readiness check; refuses duplicates; unknown names list what exists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registration[T]] = {}

    def register(self, name: str, *, ready: Ready = always_ready,
                 supports: Supports = supports_anything) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} provider {name!r} registered twice")
            self._entries[name] = Registration(factory, ready, supports)
            return factory

        return add

    def _entry(self, name: str) -> Registration[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownProviderError(f"unknown {self.kind} provider {name!r}; known: {known}") from None

    def create(self, name: str, **kwargs: object) -> T:
        return self._entry(name).factory(**kwargs)

    def ready(self, name: str, **kwargs: object) -> str:
        """"" when `name` can be created with these arguments now, else why not."""
        return self._entry(name).ready(**kwargs)

    def supports(self, name: str, **kwargs: object) -> tuple[str, str] | None:
        """None when `name` can do what `kwargs` ask (a language, a voice), else (the setting, why not)."""
        return self._entry(name).supports(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

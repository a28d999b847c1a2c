"""Provider registries keyed by the names users write (`tts_type`, `stt_type`, engine providers)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownProviderError(LookupError):
    """A provider name no registry entry answers to."""


class ProviderRegistry(Generic[T]):
    """name -> factory; refuses duplicates; unknown names list what exists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} provider {name!r} registered twice")
            self._factories[name] = factory
            return factory

        return add

    def create(self, name: str, **kwargs: object) -> T:
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise UnknownProviderError(f"unknown {self.kind} provider {name!r}; known: {known}") from None
        return factory(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._factories)

"""Registries keyed by the names users write, refusing duplicates; `ActionSpec` describes an action type."""
from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from flowengine.flow.errors import (
    DuplicateNameError,
    UnknownNameError,
    UnsupportedActionError,
)
from flowengine.flow.options.common import RUNNING, OptionModel

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> item. `register` refuses a name twice; `get` suggests the closest name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise DuplicateNameError(f"{self.kind} '{name}' is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.suggest(name)) from None

    def suggest(self, name: str) -> str | None:
        close = difflib.get_close_matches(name, list(self._items), n=1, cutoff=0.6)
        return close[0] if close else None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())


class Media(StrEnum):
    """What the activeflow's reference must be for the action (VoIPBIN's media type)."""

    RTC = "rtc"
    NON_RTC = "non_rtc"
    ANY = "any"


@dataclass(frozen=True)
class ActionSpec:
    """What flowengine knows about one action type.

    `target_options` name the options holding action ids (a mapping option holds them as
    values); `raw_options` are not substituted before execution (they hold variable *names*).
    `unsupported` is the reason an action known to VoIPBIN cannot run here (None: supported).
    """

    name: str
    options: type[OptionModel]
    summary: str
    media: Media = Media.ANY
    target_options: tuple[str, ...] = ()
    raw_options: frozenset[str] = field(default_factory=frozenset)
    unsupported: str | None = None

    @property
    def supported(self) -> bool:
        return self.unsupported is None

    def parse_options(self, option: dict[str, Any] | None, *, strict: bool = False) -> OptionModel:
        """Typed options; raises `pydantic.ValidationError`. The runner passes substituted options
        with `strict=False`, also telling the models they run (an exhausted goto's count is 0 then);
        documents are checked with `strict=True`."""
        return self.options.model_validate(option or {}, strict=strict, context={RUNNING: not strict})

    def require_supported(self) -> None:
        if self.unsupported is not None:
            raise UnsupportedActionError(self.name, self.unsupported)


class ActionRegistry(Registry[ActionSpec]):
    def __init__(self) -> None:
        super().__init__("action type")

    def add(self, spec: ActionSpec) -> ActionSpec:
        return self.register(spec.name, spec)

    def supported(self) -> list[ActionSpec]:
        return [spec for _, spec in self.items() if spec.supported]

    def unsupported(self) -> list[ActionSpec]:
        return [spec for _, spec in self.items() if not spec.supported]


"""The variables of an activeflow and `${name}` substitution into action options."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from flowengine.flow import templates
from flowengine.flow.templates import Reference

Lookup = Callable[[str], Any]


def render(value: Any) -> str:
    """How a value reads when it is spliced into a longer string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def substitute(value: Any, lookup: Lookup | Mapping[str, Any]) -> Any:
    """Replace every `${name}` in `value`, walking dicts and lists (keys are left alone).

    A string that is exactly one `${name}` becomes the variable's value with its own type (a
    list stays a list, a number a number); anywhere else values are rendered as text. Unknown
    names become "". Broken expressions are left as written (`validate` reports them).
    """
    get = _as_lookup(lookup)
    return _substitute(value, get)


def _as_lookup(lookup: Lookup | Mapping[str, Any]) -> Lookup:
    if isinstance(lookup, Mapping):
        table = lookup
        return lambda name: table.get(name, "")
    return lookup


def _substitute(value: Any, get: Lookup) -> Any:
    if isinstance(value, str):
        return _substitute_string(value, get)
    if isinstance(value, dict):
        return {k: _substitute(v, get) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, get) for v in value]
    return value


def _substitute_string(text: str, get: Lookup) -> Any:
    if "$" not in text:
        return text
    segments, _ = templates.scan(text)
    if len(segments) == 1 and isinstance(segments[0], Reference):
        found = get(segments[0].name)
        return "" if found is None else found
    return "".join(render(get(s.name)) if isinstance(s, Reference) else s for s in segments)


class Variables(MutableMapping[str, Any]):
    """The flat variable map of one activeflow.

    Values keep their types (VoIPBIN stores strings only). `dynamic` names are computed on
    lookup when no stored value exists (e.g. `voipbin.flow.reference_data`).
    """

    def __init__(
        self,
        initial: Mapping[str, Any] | None = None,
        *,
        dynamic: Mapping[str, Callable[[], Any]] | None = None,
    ) -> None:
        self._values: dict[str, Any] = dict(initial or {})
        self._dynamic: dict[str, Callable[[], Any]] = dict(dynamic or {})

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __delitem__(self, name: str) -> None:
        del self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Variables({self._values!r})"

    def lookup(self, name: str) -> Any:
        """The value of `name`: stored first, then dynamic, else ""."""
        if name in self._values:
            return self._values[name]
        compute = self._dynamic.get(name)
        return compute() if compute is not None else ""

    def substitute(self, value: Any) -> Any:
        return substitute(value, self.lookup)

    def set(self, name: str, value: Any) -> None:
        """Set `name` to `value` with its `${...}` expanded now, as VoIPBIN's setters do."""
        self._values[name] = self.substitute(value)

    def merge(self, values: Mapping[str, Any]) -> None:
        """Set several variables; each value is substituted against the map before the merge."""
        expanded = {k: self.substitute(v) for k, v in values.items()}
        self._values.update(expanded)

    def snapshot(self) -> dict[str, Any]:
        return dict(self._values)


def seed_variables(
    *,
    builtins: Mapping[str, Any],
    parent: Mapping[str, Any] | None = None,
    external: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    dynamic: Mapping[str, Callable[[], Any]] | None = None,
) -> Variables:
    """The variables of a new activeflow, merged in VoIPBIN's order.

    The parent's variables first, then `external` ones (already checked by
    `sanitize_external`), then `builtins` (the `voipbin.activeflow.*` keys) last so nothing
    overrides them. The flow document's own `variables` (a flowengine extension) are defaults:
    they fill only names still unset, and may use `${...}` of the names above.
    """
    store = Variables(parent, dynamic=dynamic)
    store.update(external or {})
    store.update(builtins)
    for key, value in (defaults or {}).items():
        if key not in store:
            store.set(key, value)
    return store

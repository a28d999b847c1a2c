"""Inbound routing: Stasis arguments and the config's route table decide which flow a call runs."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class StasisArgsError(ValueError):
    """Stasis() was given an argument flowengine does not understand."""


KNOWN_ARGS = frozenset({"flow", "route"})


def parse_stasis_args(args: Sequence[str]) -> dict[str, str]:
    """`Stasis(flowengine,flow=abc)` -> {"flow": "abc"}; bare words and unknown keys are errors."""
    parsed: dict[str, str] = {}
    for arg in args:
        if not arg:
            continue
        key, sep, value = arg.partition("=")
        key = key.strip()
        if not sep:
            raise StasisArgsError(f"Stasis argument {arg!r} is not key=value (expected flow=<id>)")
        if key not in KNOWN_ARGS:
            raise StasisArgsError(f"unknown Stasis argument {key!r}; known: {', '.join(sorted(KNOWN_ARGS))}")
        parsed[key] = value.strip()
    return parsed


@dataclass(frozen=True)
class Route:
    flow_id: str
    reason: str  # "stasis-arg", "number", "default" or "none"


class RouteTable:
    """Dialed number -> flow id, with a default. Numbers match exactly, with or without '+'."""

    def __init__(self, numbers: Mapping[str, str] | None = None, default_flow: str = "") -> None:
        self.numbers = {self._norm(k): v for k, v in (numbers or {}).items()}
        self.default_flow = default_flow

    @staticmethod
    def _norm(number: str) -> str:
        return number.strip().lstrip("+")

    def resolve(self, dialed: str, stasis_args: Mapping[str, str] | None = None) -> Route:
        args = stasis_args or {}
        if args.get("flow"):
            return Route(args["flow"], "stasis-arg")
        number = self._norm(args.get("route") or dialed)
        if number in self.numbers:
            return Route(self.numbers[number], "number")
        if self.default_flow:
            return Route(self.default_flow, "default")
        return Route("", "none")

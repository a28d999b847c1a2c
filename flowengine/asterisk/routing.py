"""Inbound routing: Stasis arguments, config routes and the API's numbers pick a call's flow and customer."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from flowengine.config import NumberRoute
from flowengine.store import Customer, NotFoundError, Number, StoreError
from flowengine.tenancy import ENGINE_CUSTOMER_ID

log = logging.getLogger(__name__)


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
    reason: str  # "stasis-arg", "number", "api-number", "default" or "none"
    customer_id: str = ENGINE_CUSTOMER_ID  # the call runs as this customer (flowengine.tenancy)

    @property
    def from_config(self) -> bool:
        """Routed by the operator's config (or dialplan), not by a customer's number."""
        return self.reason != "api-number"


class UnknownRouteCustomer(StoreError):
    """A config route names a customer the store does not hold (a store error: the CLI reports it cleanly)."""


class CustomerLookup(Protocol):
    async def get(self, id: str, *, include_deleted: bool = False) -> Customer: ...


class NumberLookup(Protocol):
    """Numbers customers created through the API (the store's NumberRepository)."""

    async def find_live(self, number: str) -> Number | None: ...


class RouteTable:
    """Dialed number -> flow id and customer, with a default. Numbers match exactly, with or without '+'.

    Order: a flow pinned by the dialplan (`flow=`), the config's numbers, the numbers customers created
    through the API (`stored`, looked up per call so every engine node sees them at once), the default flow.
    The operator's file wins over the API: no customer can take a number the config routes."""

    def __init__(self, numbers: Mapping[str, str | NumberRoute] | None = None, default_flow: str = "",
                 stored: NumberLookup | None = None) -> None:
        self.numbers: dict[str, str] = {}
        self.customers: dict[str, str] = {}  # numbers routed for a customer other than the engine's
        for number, route in (numbers or {}).items():
            key = self._norm(number)
            if isinstance(route, NumberRoute):
                self.numbers[key] = route.flow_id
                self.customers[key] = route.customer_id
            else:
                self.numbers[key] = route
        self.default_flow = default_flow
        self.stored = stored

    @staticmethod
    def _norm(number: str) -> str:
        return number.strip().lstrip("+")

    def routes_number(self, number: str) -> bool:
        """The config routes `number` (the API may not hand it to a customer)."""
        return self._norm(number) in self.numbers

    def resolve(self, dialed: str, stasis_args: Mapping[str, str] | None = None) -> Route:
        """The route by the config alone."""
        args = stasis_args or {}
        if args.get("flow"):
            return Route(args["flow"], "stasis-arg")
        number = self._norm(args.get("route") or dialed)
        if number in self.numbers:
            return Route(self.numbers[number], "number", self.customers.get(number, ENGINE_CUSTOMER_ID))
        if self.default_flow:
            return Route(self.default_flow, "default")
        return Route("", "none")

    async def check_customers(self, customers: CustomerLookup) -> None:
        """Every customer the config routes numbers for exists (else UnknownRouteCustomer naming each)."""
        problems: list[str] = []
        for number, customer_id in sorted(self.customers.items()):
            if customer_id == ENGINE_CUSTOMER_ID:
                continue
            try:
                await customers.get(customer_id)
            except NotFoundError:
                problems.append(f"routes.numbers[{number!r}].customer_id: no customer {customer_id} in the store "
                                "(`flowengine customers create` makes one)")
        if problems:
            raise UnknownRouteCustomer("; ".join(problems))

    async def lookup(self, dialed: str, stasis_args: Mapping[str, str] | None = None) -> Route:
        """The route by the config, then by the API's numbers for what the config does not route itself."""
        route = self.resolve(dialed, stasis_args)
        number = self._norm((stasis_args or {}).get("route") or dialed)
        if route.reason not in ("default", "none") or self.stored is None or not number.isdigit():
            return route
        try:
            found = await self.stored.find_live(f"+{number}")
        except StoreError as exc:  # the config's route still serves the call
            log.error("number %s not looked up in the store (%s): %s route", number, exc, route.reason)
            return route
        if found is None:
            return route
        return Route(found.call_flow_id, "api-number", found.customer_id)

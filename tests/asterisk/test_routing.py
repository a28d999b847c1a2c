"""Stasis arguments and the route table: config routes with their customers, the API's numbers after them."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowengine.asterisk.routing import (
    Route,
    RouteTable,
    StasisArgsError,
    UnknownRouteCustomer,
    parse_stasis_args,
)
from flowengine.config import NumberRoute, RoutesConfig
from flowengine.store import Customer, NotFoundError, Number, StoreUnavailableError
from flowengine.tenancy import ENGINE_CUSTOMER_ID

FLOW = "5f7a8b9c-0d1e-4345-8012-345678901234"


def test_parse_flow_argument() -> None:
    assert parse_stasis_args(["flow=menu-1"]) == {"flow": "menu-1"}
    assert parse_stasis_args([]) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["menu"], "'menu' is not key=value"), (["color=red"], "unknown Stasis argument 'color'")],
)
def test_bad_arguments_are_named(args: list[str], message: str) -> None:
    with pytest.raises(StasisArgsError, match=message):
        parse_stasis_args(args)


def test_resolution_order() -> None:
    table = RouteTable({"+15550100": "sales", "200": "support"}, default_flow="main")
    assert table.resolve("15550100").flow_id == "sales"
    assert table.resolve("+15550100").reason == "number"
    assert table.resolve("200", {"flow": "pinned"}).flow_id == "pinned"
    assert table.resolve("999").flow_id == "main"
    assert table.resolve("999").reason == "default"
    assert RouteTable().resolve("999").reason == "none"


CUSTOMER = "3f7a8b9c-0d1e-4345-8012-345678901234"


def test_a_config_route_names_its_customer_and_the_short_form_is_the_engines() -> None:
    config = RoutesConfig.model_validate({"numbers": {
        "+15550100": {"flow_id": "sales", "customer_id": CUSTOMER}, "200": "support"}})
    table = RouteTable(config.numbers, default_flow="main")
    assert table.resolve("15550100") == Route("sales", "number", CUSTOMER)
    assert table.resolve("200") == Route("support", "number", ENGINE_CUSTOMER_ID)
    assert table.resolve("999") == Route("main", "default", ENGINE_CUSTOMER_ID)


def test_a_config_route_refuses_a_customer_that_is_no_uuid() -> None:
    with pytest.raises(ValidationError, match="not a customer id"):
        RoutesConfig.model_validate({"numbers": {"100": {"flow_id": "x", "customer_id": "acme"}}})


class FakeNumbers:
    def __init__(self, *numbers: Number, fail: bool = False) -> None:
        self.by_number = {n.number: n for n in numbers}
        self.fail = fail
        self.asked: list[str] = []

    async def find_live(self, number: str) -> Number | None:
        self.asked.append(number)
        if self.fail:
            raise StoreUnavailableError("database down")
        return self.by_number.get(number)


async def test_api_numbers_come_after_the_configs_numbers_and_before_its_default() -> None:
    stored = FakeNumbers(Number(customer_id=CUSTOMER, number="+15550100", call_flow_id=FLOW),
                         Number(customer_id=CUSTOMER, number="+200", call_flow_id=FLOW))
    table = RouteTable({"200": "support"}, default_flow="main", stored=stored)
    assert await table.lookup("15550100") == Route(FLOW, "api-number", CUSTOMER)
    assert await table.lookup("+15550100") == Route(FLOW, "api-number", CUSTOMER)
    assert await table.lookup("200") == Route("support", "number")  # the operator's file wins
    assert await table.lookup("999") == Route("main", "default")
    assert await table.lookup("15550100", {"flow": "pinned"}) == Route("pinned", "stasis-arg")
    assert await table.lookup("s") == Route("main", "default")  # not a number: not looked up
    assert stored.asked == ["+15550100", "+15550100", "+999"]


async def test_a_store_failure_leaves_the_configs_route() -> None:
    table = RouteTable(default_flow="main", stored=FakeNumbers(fail=True))
    assert await table.lookup("15550100") == Route("main", "default")


async def test_config_routes_naming_unknown_customers_are_refused_at_start() -> None:
    class Customers:
        async def get(self, id: str, *, include_deleted: bool = False) -> Customer:
            if id == CUSTOMER:
                return Customer(id=id, name="known")
            raise NotFoundError("customer", id)

    other = "4f7a8b9c-0d1e-4345-8012-345678901234"
    table = RouteTable({"1": NumberRoute(flow_id="a", customer_id=CUSTOMER), "2": NumberRoute(flow_id="b"),
                        "3": NumberRoute(flow_id="c", customer_id=other)})
    with pytest.raises(UnknownRouteCustomer, match=rf"routes.numbers\['3'\].customer_id: no customer {other}"):
        await table.check_customers(Customers())
    await RouteTable({"1": NumberRoute(flow_id="a", customer_id=CUSTOMER)}).check_customers(Customers())

"""Stasis arguments and the route table."""
from __future__ import annotations

import pytest

from flowengine.asterisk.routing import RouteTable, StasisArgsError, parse_stasis_args


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

"""The `${name}` scanner: segments, literal escape and errors with their column."""
from __future__ import annotations

import pytest

from flowengine.flow.errors import TemplateSyntaxError
from flowengine.flow.templates import (
    Reference,
    exact_reference,
    parse,
    references,
    scan,
)


def test_plain_text_is_one_literal() -> None:
    assert parse("hello") == ["hello"]
    assert parse("") == []


def test_references_and_literals() -> None:
    assert parse("Hi ${voipbin.call.source.target}!") == [
        "Hi ",
        Reference("voipbin.call.source.target", 3, 32),
        "!",
    ]


def test_names_may_hold_dots_dashes_underscores_digits_and_letters() -> None:
    assert [r.name for r in references("${a.b-c_d9} ${1st} ${café}")] == ["a.b-c_d9", "1st", "café"]


def test_double_dollar_writes_a_literal_open() -> None:
    assert parse("cost: $${price} and $$5 and $5") == ["cost: ${price} and $$5 and $5"]
    assert parse("$${a}${b}") == ["${a}", Reference("b", 5, 9)]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("abc ${name", "unterminated '${' (missing '}')", 4),
        ("x${}", "empty variable name in '${}'", 1),
        ("x${  }", "empty variable name in '${}'", 1),
        ("${a b}", "bad character ' ' in variable name '${a b}'", 3),
        ("${a:-x}", "bad character ':' in variable name '${a:-x}'", 3),
        ("${a${b}}", "nested '${' is not supported", 3),
    ],
)
def test_errors_carry_their_column(text: str, message: str, column: int) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        parse(text)
    assert (caught.value.message, caught.value.column) == (message, column)


def test_scan_reports_every_error_and_keeps_going() -> None:
    segments, errors = scan("${} ${ok} ${bad name} ${open")
    assert [e.column for e in errors] == [0, 15, 22]
    assert [s.name for s in segments if isinstance(s, Reference)] == ["ok"]
    assert "".join(s if isinstance(s, str) else "<>" for s in segments) == "${} <> ${bad name} ${open"


def test_exact_reference() -> None:
    assert exact_reference("${x}") == Reference("x", 0, 4)
    assert exact_reference(" ${x}") is None
    assert exact_reference("${x}${y}") is None
    assert exact_reference("$${x}") is None

"""The node-aware YAML and JSON readers: YAML 1.2 scalars, string keys, positions, syntax errors."""
from __future__ import annotations

import pytest

from flowengine.flow.errors import FlowSyntaxError
from flowengine.flow.problems import Location
from flowengine.flow.reader import read_text


def messages(text: str, fmt: str = "yaml") -> list[str]:
    with pytest.raises(FlowSyntaxError) as caught:
        read_text(text, file="f", fmt=fmt)  # type: ignore[arg-type]
    return [p.format() for p in caught.value.problems]


def test_yaml_12_scalars() -> None:
    doc = read_text(
        "a: yes\nb: on\nc: 010\nd: 1:20\ne: 2024-01-01\nf: 0x1f\ng: .inf\nh: ~\ni: TRUE\nj: 0o17\nl: -0o7\nk: 1e3\n"
    )
    assert doc.data == {
        "a": "yes", "b": "on", "c": 10, "d": "1:20", "e": "2024-01-01", "f": 31,
        "g": float("inf"), "h": None, "i": True, "j": 15, "k": 1000.0, "l": "-0o7",
    }


def test_mapping_keys_are_strings() -> None:
    assert read_text("1: a\ntrue: b\n~: c\n").data == {"1": "a", "true": "b", "~": "c"}
    assert messages("1: a\n'1': b\n") == ["f:2:1: duplicate key '1' (first defined at line 1, column 1)"]


def test_positions_of_keys_and_values() -> None:
    doc = read_text("name: x\nactions:\n  - type: talk\n    option: {text: 'hi ${a}'}\n", file="f.yaml")
    assert doc.source.key(("actions", 0, "option")) == Location("f.yaml", 4, 5)
    assert doc.source.value(("actions", 0, "option", "text")) == Location("f.yaml", 4, 20)
    assert doc.source.offset(("actions", 0, "option", "text"), 3) == Location("f.yaml", 4, 24)
    assert doc.source.value(("actions", 0, "nope", 3)) == Location("f.yaml", 3, 5)


def test_escaped_strings_point_at_the_string_start() -> None:
    doc = read_text('t: "a\\tb ${x"\n', file="f")
    assert doc.source.offset(("t",), 5) == Location("f", 1, 4)


def test_yaml_syntax_errors_and_unsupported_tags() -> None:
    assert messages("a: [1\n") == [
        (
            "f:2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"
            " (while parsing a flow sequence started at line 1, column 4)"
        )
    ]
    assert messages("a: !!binary aGk=\nb: !custom x\n") == [
        "f:1:4: unsupported YAML tag '!!binary'",
        "f:2:4: unsupported YAML tag '!custom'",
    ]
    assert messages("a: &x [*x]\n") == ["f:1:4: recursive YAML alias"]
    assert messages("a: 1\n---\nb: 2\n")[0].startswith("f:2:1: YAML syntax error: but found another document")
    assert messages("a: \x00\n") == ["f:1:4: YAML syntax error: special characters are not allowed"]


def test_aliases_and_explicit_core_tags() -> None:
    doc = read_text("base: &b {type: tel}\nx: *b\ns: !!str 5\ni: !!int '7'\n")
    assert doc.data == {"base": {"type": "tel"}, "x": {"type": "tel"}, "s": "5", "i": 7}


def test_empty_document_is_none() -> None:
    assert read_text("# nothing\n").data is None


def test_json_positions_and_values() -> None:
    doc = read_text('{"a": [1, 2.5, -3e2, true, null],\n "b": "x${y}"}', file="f.json")
    assert doc.data == {"a": [1, 2.5, -300.0, True, None], "b": "x${y}"}
    assert doc.source.key(("b",)) == Location("f.json", 2, 2)
    assert doc.source.offset(("b",), 1) == Location("f.json", 2, 9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1,}', "f:1:9: JSON syntax error: expecting a property name enclosed in double quotes"),
        ('{"a" 1}', "f:1:6: JSON syntax error: expecting ':' delimiter"),
        ('[1 2]', "f:1:4: JSON syntax error: expecting ',' delimiter or ']'"),
        ('{"a": 1 "b": 2}', "f:1:9: JSON syntax error: expecting ',' delimiter or '}'"),
        ('{"a": "x\n"}', "f:1:9: JSON syntax error: invalid control character"),
        ('{"a": "x', "f:1:7: JSON syntax error: unterminated string"),
        ("{'a': 1}", "f:1:2: JSON syntax error: expecting a property name enclosed in double quotes"),
        ("\n\n  nope", "f:3:3: JSON syntax error: expecting a value"),
        ("{} {}", "f:1:4: JSON syntax error: extra data after the document"),
        ("", "f:1:1: JSON syntax error: expecting a value"),
    ],
)
def test_json_syntax_errors(text: str, expected: str) -> None:
    assert messages(text, "json") == [expected]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert messages("[" * 100000, "json") == ["f:1:1: document is nested too deeply"]

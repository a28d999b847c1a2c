"""Substitution into options and the Variables store."""
from __future__ import annotations

from typing import Any

from flowengine.flow import varnames
from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.variables import Variables, render, seed_variables, substitute

VARS: dict[str, Any] = {
    "name": "Ada",
    "count": 3,
    "ratio": 0.5,
    "flag": True,
    "days": [1, 2, 3],
    "profile": {"tier": "gold"},
    "nothing": None,
}


def test_string_substitution() -> None:
    assert substitute("Hello ${name}, you have ${count} calls", VARS) == "Hello Ada, you have 3 calls"


def test_exact_reference_keeps_the_type() -> None:
    assert substitute("${count}", VARS) == 3
    assert substitute("${ratio}", VARS) == 0.5
    assert substitute("${flag}", VARS) is True
    assert substitute("${days}", VARS) == [1, 2, 3]
    assert substitute("${profile}", VARS) == {"tier": "gold"}


def test_non_strings_inside_text_are_rendered() -> None:
    assert substitute("${flag}/${days}/${profile}/${nothing}", VARS) == 'true/[1,2,3]/{"tier":"gold"}/'
    assert render(None) == "" and render(2.5) == "2.5" and render(False) == "false"


def test_unknown_names_become_empty() -> None:
    assert substitute("[${missing}]", VARS) == "[]"
    assert substitute("${missing}", VARS) == ""
    assert substitute("${nothing}", VARS) == ""


def test_recursive_through_dicts_and_lists_keys_untouched() -> None:
    option = {
        "text": "Hi ${name}",
        "weekdays": "${days}",
        "destinations": [{"type": "tel", "target": "${name}"}],
        "nested": {"${name}": ["${count}", 7, None, False]},
        "duration": 5000,
    }
    assert substitute(option, VARS) == {
        "text": "Hi Ada",
        "weekdays": [1, 2, 3],
        "destinations": [{"type": "tel", "target": "Ada"}],
        "nested": {"${name}": [3, 7, None, False]},
        "duration": 5000,
    }


def test_array_elements_are_not_stringified() -> None:
    # VoIPBIN turns [1, 2] into ["1", "2"]; here values keep their types.
    assert substitute({"weekdays": [1, 2]}, VARS) == {"weekdays": [1, 2]}


def test_literal_escape_and_broken_expressions_stay_as_written() -> None:
    assert substitute("$${name} is ${name}", VARS) == "${name} is Ada"
    assert substitute("price $5, ${open", VARS) == "price $5, ${open"
    assert substitute("${}", VARS) == "${}"


def test_input_is_not_modified() -> None:
    option = {"list": ["${name}"]}
    substitute(option, VARS)
    assert option == {"list": ["${name}"]}


def test_callable_lookup() -> None:
    assert substitute("${a}-${b}", lambda name: name.upper()) == "A-B"


def test_store_lookup_order_and_dynamic_names() -> None:
    store = Variables({"a": "1"}, dynamic={varnames.FLOW_REFERENCE_DATA: lambda: {"id": "c1"}})
    assert store.lookup("a") == "1"
    assert store.lookup(varnames.FLOW_REFERENCE_DATA) == {"id": "c1"}
    assert store.substitute("${voipbin.flow.reference_data}") == {"id": "c1"}
    assert store.lookup("missing") == ""


def test_set_substitutes_at_set_time() -> None:
    store = Variables({varnames.CALL_DIGITS: "1"})
    store.set(varnames.CALL_DIGITS, "${voipbin.call.digits}2")
    assert store[varnames.CALL_DIGITS] == "12"
    store.set("copy", "${voipbin.call.digits}")
    store[varnames.CALL_DIGITS] = ""
    assert store["copy"] == "12"


def test_merge_and_mapping_protocol() -> None:
    store = Variables({"x": "1"})
    store.merge({"y": "${x}${x}", "z": [1]})
    assert dict(store) == {"x": "1", "y": "11", "z": [1]}
    del store["x"]
    assert len(store) == 2 and "x" not in store
    assert store.snapshot() == {"y": "11", "z": [1]}


def test_builtin_names() -> None:
    assert varnames.CALL_DIGITS == "voipbin.call.digits"
    assert "voipbin.call.source.target" in varnames.BUILTIN_NAMES
    assert "voipbin.recording.filenames" in varnames.BUILTIN_NAMES
    assert "voipbin.activeflow.complete_count" in varnames.BUILTIN_NAMES
    assert varnames.is_reserved("  VoIPBin.anything")
    assert not varnames.is_reserved("voipbinx")


def test_seed_order_parent_external_builtins_then_defaults() -> None:
    store = seed_variables(
        builtins={varnames.ACTIVEFLOW_ID: "af1"},
        parent={"lang": "fr", varnames.ACTIVEFLOW_ID: "parent", "x": "p"},
        external={"x": "ext"},
        defaults={"lang": "en", "greeting": "call ${voipbin.activeflow.id}", "days": [1, 2]},
    )
    assert store.snapshot() == {
        "lang": "fr",
        varnames.ACTIVEFLOW_ID: "af1",
        "x": "ext",
        "greeting": "call af1",
        "days": [1, 2],
    }


def test_runner_round_trip_substitute_then_parse_lax() -> None:
    sleep = ACTIONS.get("sleep")
    option = substitute({"duration": "${wait}"}, {"wait": "500"})
    assert sleep.parse_options(option).model_dump() == {"duration": 500}
    cond = ACTIONS.get("condition_datetime")
    option = substitute({"condition": "==", "weekdays": "${days}"}, {"days": [1, 5]})
    assert cond.parse_options(option).model_dump()["weekdays"] == [1, 5]

"""Sanitising of variables given from outside an activeflow."""
from __future__ import annotations

import pytest

from flowengine.flow.errors import ExternalVariablesError
from flowengine.flow.external import MAX_KEYS, MAX_VALUE_BYTES, sanitize_external


def test_keys_are_trimmed_and_values_kept() -> None:
    assert sanitize_external({" name ": "Ada", "n": 3, "l": [1]}) == {"name": "Ada", "n": 3, "l": [1]}


def test_every_problem_is_listed() -> None:
    with pytest.raises(ExternalVariablesError) as caught:
        sanitize_external({"": "x", "VoIPBIN.call.id": "forged", "big": "x" * (MAX_VALUE_BYTES + 1)})
    assert caught.value.problems == [
        "empty variable name",
        "variable 'VoIPBIN.call.id' is reserved: names starting with 'voipbin.' are set by the engine",
        f"variable 'big' is too large: {MAX_VALUE_BYTES + 1} bytes (at most {MAX_VALUE_BYTES})",
    ]


def test_limits_on_count_and_total() -> None:
    with pytest.raises(ExternalVariablesError, match="too many variables: 101"):
        sanitize_external({f"k{i}": "v" for i in range(MAX_KEYS + 1)})
    with pytest.raises(ExternalVariablesError, match="too large in total"):
        sanitize_external({f"k{i}": "x" * 30000 for i in range(3)})


def test_sizes_count_utf8_bytes() -> None:
    ok = "é" * (MAX_VALUE_BYTES // 2)
    assert sanitize_external({"v": ok}) == {"v": ok}
    with pytest.raises(ExternalVariablesError):
        sanitize_external({"v": ok + "é"})


def test_keys_colliding_after_trim_and_non_json_values() -> None:
    with pytest.raises(ExternalVariablesError) as caught:
        sanitize_external({"a": 1, " a": 2, "b": object(), 5: "x"})
    assert caught.value.problems == [
        "variable 'a' is given twice (after trimming spaces)",
        "variable 'b' has a value that is not JSON data",
        "variable name 5 is not a string",
    ]

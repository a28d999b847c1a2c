"""`flowengine validate` and `flowengine schema` as a user runs them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import FLOWS, run_cli


def test_valid_files_exit_zero_and_print_nothing() -> None:
    files = [str(p) for p in sorted((FLOWS / "good").iterdir())]
    assert run_cli(["validate", *files]) == (0, "")


def test_problems_of_several_files_are_sorted_by_file_line_column() -> None:
    templates = FLOWS / "bad" / "templates.yaml"
    goto = FLOWS / "bad" / "goto.yaml"
    code, out = run_cli(["validate", str(templates), str(goto)])
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        f"{goto}:6:5: action 'goto' is missing required option 'loop_count'"
        " (VoIPBIN's goto without it never jumps)"
    )
    assert lines[3] == f"{templates}:5:19: unterminated '${{' (missing '}}') in option 'text' of action 'talk'"
    assert len(lines) == 3 + 7


def test_a_missing_option_points_at_the_actions_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    path.write_text("name: m\nactions:\n  - id: greet\n    type: talk\n    option:\n      async: true\n")
    assert run_cli(["validate", str(path)]) == (1, f"{path}:3:5: action 'talk' is missing required option 'text'\n")


def test_warnings_are_printed_but_do_not_fail() -> None:
    path = FLOWS / "warn" / "warnings.yaml"
    code, out = run_cli(["validate", str(path)])
    assert code == 0
    assert out.splitlines()[0] == f"{path}:4:11: warning: digits_receive has no 'duration': it stops waiting at once"
    assert all(": warning: " in line for line in out.splitlines())
    assert run_cli(["validate", "--quiet", str(path)]) == (0, "")


def test_writes_to_engine_variables_are_warnings_and_do_not_fail() -> None:
    path = FLOWS / "warn" / "readonly.yaml"
    code, out = run_cli(["validate", str(path)])
    assert code == 0
    assert out.splitlines() == [
        (f"{path}:5:19: warning: variable 'voipbin.call.source.target' is read-only (set by the engine):"
        " variable_set ignores this write"),
        (f"{path}:8:12: warning: variable 'VoIPBIN.activeflow.id' is read-only (set by the engine):"
        " variable_set ignores this write"),
    ]


def test_one_bad_file_among_good_ones_fails(tmp_path: Path) -> None:
    good = FLOWS / "good" / "uuid_ids.yaml"
    missing = tmp_path / "missing.yaml"
    code, out = run_cli(["validate", str(good), str(missing)])
    assert (code, out) == (1, f"{missing}:1:1: no such file\n")


def test_directory_is_a_problem(tmp_path: Path) -> None:
    assert run_cli(["validate", str(tmp_path)]) == (1, f"{tmp_path}:1:1: is a directory, not a flow file\n")


def test_unreadable_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("name: x\nactions: []\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)  # chmod does not stop root
    assert run_cli(["validate", str(path)]) == (1, f"{path}:1:1: cannot read file: Permission denied\n")


def test_schema_prints_json_schema() -> None:
    code, out = run_cli(["schema"])
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "talk" in schema["$defs"]["Action"]["discriminator"]["mapping"]
    code, compact = run_cli(["schema", "--compact"])
    assert json.loads(compact) == schema and len(compact.splitlines()) == 1


def test_help_texts() -> None:
    code, out = run_cli(["validate", "--help"])
    assert code == 0 and "FILE:LINE:COL" in out
    code, out = run_cli(["schema", "--help"])
    assert code == 0 and "JSON Schema" in out


def test_validate_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["validate"]) == (2, "")
    assert "the following arguments are required: FILE" in capsys.readouterr().err

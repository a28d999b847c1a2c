"""The fixture corpus: good flows load cleanly, broken ones report exactly the expected lines."""
from __future__ import annotations

from pathlib import Path

import pytest

from flowengine.flow.checker import check_document
from flowengine.flow.errors import FlowSyntaxError, FlowValidationError
from flowengine.flow.loader import check_file, load_file
from flowengine.flow.reader import read_file

from .conftest import FLOWS

GOOD = sorted((FLOWS / "good").iterdir())
BAD = sorted(p for p in (FLOWS / "bad").iterdir() if p.suffix != ".expected")
WARN = sorted(p for p in (FLOWS / "warn").iterdir() if p.suffix != ".expected")


def expected_lines(path: Path) -> list[str]:
    text = path.with_name(path.name + ".expected").read_text(encoding="utf-8")
    return [f"{path}:{line}" for line in text.splitlines()]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_flow_has_no_problems(path: Path) -> None:
    report = check_file(path)
    assert [p.format() for p in report.problems()] == []
    loaded = load_file(path)
    assert loaded.flow.actions
    assert loaded.warnings == []


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_flow_reports_every_expected_line(path: Path) -> None:
    report = check_file(path)
    assert not report.ok
    assert [p.format() for p in report.problems()] == expected_lines(path)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_flow_refused_by_load_file(path: Path) -> None:
    with pytest.raises((FlowSyntaxError, FlowValidationError)) as caught:
        load_file(path)
    assert [p.format() for p in caught.value.problems] == [
        line for line in expected_lines(path) if ": warning: " not in line
    ]


@pytest.mark.parametrize("path", WARN, ids=lambda p: p.name)
def test_warnings_do_not_make_a_flow_invalid(path: Path) -> None:
    report = check_file(path)
    assert report.ok
    assert [p.format() for p in report.problems()] == expected_lines(path)
    assert [p.format() for p in load_file(path).warnings] == expected_lines(path)


def test_every_problem_carries_the_path_of_its_field() -> None:
    report = check_document(read_file(FLOWS / "bad" / "options.yaml"))
    paths = {p.path for p in report.errors}
    assert "actions[0].option.txt" in paths
    assert "actions[5].option.destinations[1].type" in paths


def test_ivr_menu_model() -> None:
    flow = load_file(FLOWS / "good" / "ivr_menu.yaml").flow
    assert flow.name == "main-menu"
    assert flow.variables == {"company": "Example Corp", "sales_number": "+15550100"}
    route = flow.action("route")
    assert route is not None
    assert route.option["target_ids"] == {"1": "sales", "2": "assistant"}
    goodbye = flow.action("goodbye")
    assert goodbye is not None and goodbye.next_id == "end"


def test_yaml_and_json_menus_read_alike() -> None:
    flow = load_file(FLOWS / "good" / "ivr_menu.json").flow
    assert [a.type for a in flow.actions][:4] == ["answer", "talk", "digits_receive", "branch"]

"""The flow directory: loads at start, reloads on change, refuses bad files and keeps the old version."""
from __future__ import annotations

import os
from pathlib import Path

from flowengine.flow.directory import FlowDirectory

GOOD = "name: menu\nactions:\n  - type: answer\n  - type: hangup\n"
BETTER = "id: menu\nname: menu v2\nactions:\n  - type: answer\n  - type: sleep\n    option: {duration: 10}\n"
BROKEN = "name: menu\nactions:\n  - type: tlak\n"


def touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # distinct mtimes without sleeping


def test_load_change_refuse_and_remove(tmp_path: Path) -> None:
    path = tmp_path / "menu.yaml"
    touch(path, GOOD, 1)
    (tmp_path / "notes.txt").write_text("not a flow")
    flows = FlowDirectory(tmp_path)
    assert flows.scan() and flows.get_flow("menu") is not None
    assert [a.type for a in flows.get_flow("menu").actions] == ["answer", "hangup"]  # type: ignore[union-attr]
    assert not flows.scan()  # nothing changed

    touch(path, BETTER, 2)
    assert flows.scan()
    assert flows.get_flow("menu").name == "menu v2"  # type: ignore[union-attr]

    touch(path, BROKEN, 3)
    assert not flows.scan()
    assert flows.get_flow("menu").name == "menu v2"  # type: ignore[union-attr]  # previous version keeps serving
    assert flows.errors[str(path)] == [f"{path}:3:11: unknown action type 'tlak' (did you mean 'talk'?)"]

    touch(path, GOOD, 4)
    assert flows.scan() and str(path) not in flows.errors
    path.unlink()
    assert flows.scan() and flows.get_flow("menu") is None


def test_a_broken_file_at_start_loads_nothing(tmp_path: Path) -> None:
    touch(tmp_path / "bad.yaml", BROKEN, 1)
    flows = FlowDirectory(tmp_path)
    assert not flows.scan() and flows.flows == {} and len(flows.errors) == 1

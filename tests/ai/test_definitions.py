"""AI files: every problem located (FILE:LINE:COL), and the directory that reloads them when they change."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowengine.ai.definitions import AIDirectory, check_ai_file
from tests.support import eventually

AGENT = "engine_model: rules.appointments\ninit_prompt: {prompt}\n"


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # a new mtime even within the file system's clock resolution
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_every_problem_of_an_ai_file_has_a_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("engine_model: rules.appointments\ntool_names: [teleport]\nvoice: 3\n")
    config, problems = check_ai_file(path)
    assert config is None
    assert len(problems) == 1 and problems[0].format().startswith(f"{path}:2:13: tool_names: 'teleport' is not a tool")
    path.write_text("engine_model: rules.appointments\nvoice: 3\n")
    config, problems = check_ai_file(path)
    assert config is None and [str(p.location) for p in problems] == [f"{path}:2:8"]
    path.write_text("engine_model: [unclosed\n")
    config, problems = check_ai_file(path)
    assert config is None and len(problems) == 1 and str(problems[0].location).startswith(f"{path}:2:")


def test_an_unset_environment_variable_is_a_warning_where_the_engine_does_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    path = tmp_path / "agent.yaml"
    path.write_text("engine_model: rules.appointments\nengine_key_env: NO_SUCH_KEY_VAR\n")
    config, problems = check_ai_file(path)
    assert config is None and [p.format() for p in problems] == [
        f"{path}:2:17: engine_key_env names 'NO_SUCH_KEY_VAR', which is not set"]
    config, problems = check_ai_file(path, environment=False)
    assert config is not None and [p.format() for p in problems] == [
        f"{path}:2:17: warning: engine_key_env names 'NO_SUCH_KEY_VAR', which is not set"]


async def test_an_edited_ai_file_is_served_again_and_a_broken_edit_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    write(path, AGENT.format(prompt="first"))
    ais = AIDirectory(tmp_path, poll_interval=0.05)
    assert ais.scan() and not ais.scan()  # nothing changed: nothing loaded again
    first = ais.get("agent")
    assert first is not None and first.ai.init_prompt == "first"
    ais.start_watching()
    try:
        write(path, AGENT.format(prompt="second"))
        await eventually(lambda: (c := ais.get("agent")) is not None and c.ai.init_prompt == "second",
                         what="the edited prompt")
        edited = ais.get("agent")
        assert edited is not None and ais.get(edited.ai.id) is edited
        write(path, "engine_model: [broken\n")
        await eventually(lambda: str(path) in ais.errors, what="the broken edit refused")
        assert ais.get("agent") is edited
        write(tmp_path / "other.yaml", AGENT.format(prompt="other"))
        path.unlink()
        await eventually(lambda: ais.get("other") is not None and ais.get("agent") is None, what="add and remove")
    finally:
        await ais.aclose()

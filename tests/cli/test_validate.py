"""`flowengine validate` on AIs: AI files checked as AIs, ai_talk naming a missing AI, a light start."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.flow.conftest import run_cli

RECEPTIONIST = "engine_model: rules.appointments\ninit_prompt: You book appointments.\n"
TALKS_TO = "name: main\nactions:\n  - type: answer\n  - type: ai_talk\n    option:\n      assistance_id: {ai}\n"


def folder(tmp_path: Path, ai: str = "receptionist") -> Path:
    (tmp_path / "ais").mkdir()
    (tmp_path / "ais" / "receptionist.yaml").write_text(RECEPTIONIST)
    flow = tmp_path / "main.yaml"
    flow.write_text(TALKS_TO.format(ai=ai))
    return flow


def test_ai_files_are_checked_as_ais_with_file_line_and_column(tmp_path: Path) -> None:
    flow = folder(tmp_path)
    ai = tmp_path / "ais" / "receptionist.yaml"
    assert run_cli(["validate", str(flow), str(ai)]) == (0, "")  # an AI is not a flow without 'actions'
    ai.write_text("engine_model: rules.appointments\ntool_names: [teleport]\n")
    code, out = run_cli(["validate", str(ai)])
    assert code == 1 and out.startswith(f"{ai}:2:13: tool_names: 'teleport' is not a tool")
    shaped = tmp_path / "agent.yaml"  # outside ais/, known by its shape
    shaped.write_text("engine_model: dialogflow.cx-agent\n")
    code, out = run_cli(["validate", str(shaped)])
    assert code == 1 and out.startswith(f"{shaped}:1:15: engine_model 'dialogflow.cx-agent' is not available")


def test_ai_talk_naming_a_missing_ai_is_an_error(tmp_path: Path) -> None:
    flow = folder(tmp_path, ai="nobody")
    code, out = run_cli(["validate", str(flow)])
    assert (code, out) == (1, (f"{flow}:6:22: option 'assistance_id' of action 'ai_talk': AI 'nobody' does "
                               f"not exist in {tmp_path / 'ais'}/\n"))
    flow.write_text(TALKS_TO.format(ai="receptionst"))
    code, out = run_cli(["validate", str(flow)])
    assert code == 1 and out.endswith("(did you mean 'receptionist'?)\n")
    for name in ("receptionist", _file_ai_id("receptionist")):
        flow.write_text(TALKS_TO.format(ai=name))  # by file name or by id
        assert run_cli(["validate", str(flow)]) == (0, "")
    flow.write_text(TALKS_TO.format(ai="${ai}"))  # known when it runs
    assert run_cli(["validate", str(flow)]) == (0, "")


def test_a_broken_ai_file_makes_the_ai_unusable_and_a_team_must_exist(tmp_path: Path) -> None:
    flow = folder(tmp_path)
    (tmp_path / "ais" / "receptionist.yaml").write_text("engine_model: [broken\n")
    code, out = run_cli(["validate", str(flow)])
    assert code == 1 and f"AI 'receptionist' cannot be used: {tmp_path / 'ais' / 'receptionist.yaml'} has errors" in out
    (tmp_path / "ais" / "receptionist.yaml").write_text(RECEPTIONIST)
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "front.yaml").write_text(
        "start_member_id: desk\nmembers:\n  - {name: desk, ai_id: receptionist}\n")
    team_flow = "name: t\nactions:\n  - type: ai_task\n    option: {assistance_type: team, assistance_id: %s}\n"
    flow.write_text(team_flow % "front")
    assert run_cli(["validate", str(flow)]) == (0, "")
    flow.write_text(team_flow % "back")
    code, out = run_cli(["validate", str(flow)])
    assert (code, out) == (1, (f"{flow}:4:52: option 'assistance_id' of action 'ai_task': AI team 'back' does not "
                               f"exist in {tmp_path / 'teams'}/\n"))


def test_ais_given_on_the_command_line_count_and_lone_flows_are_not_checked_for_ais(tmp_path: Path) -> None:
    flow = tmp_path / "flows" / "main.yaml"
    flow.parent.mkdir()
    flow.write_text(TALKS_TO.format(ai="receptionist"))
    assert run_cli(["validate", str(flow)]) == (0, "")  # its AIs are the API's: not knowable here
    elsewhere = tmp_path / "agents" / "receptionist.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(RECEPTIONIST)
    assert run_cli(["validate", str(flow), str(elsewhere)]) == (0, "")
    other = tmp_path / "agents" / "sales.yaml"
    other.write_text(RECEPTIONIST)
    code, out = run_cli(["validate", str(flow), str(other)])
    assert code == 1 and "AI 'receptionist' does not exist among the AI files given" in out


def _file_ai_id(stem: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowengine:ai:{stem}"))


HEAVY = ("fastapi", "starlette", "faster_whisper", "ctranslate2", "piper", "onnxruntime", "numpy", "scipy", "soxr",
         "sqlalchemy", "aiohttp", "openai", "flowengine.api", "flowengine.media", "flowengine.runtime")


def test_validating_a_flow_imports_nothing_heavy(tmp_path: Path) -> None:
    flow = tmp_path / "main.yaml"
    flow.write_text("name: main\nactions:\n  - type: answer\n  - type: talk\n    option: {text: hi}\n")
    script = ("import json, sys\nfrom flowengine.cli.main import main\ncode = main(['validate', sys.argv[1]])\n"
              "print(json.dumps([code, sorted(sys.modules)]))")
    result = subprocess.run([sys.executable, "-c", script, str(flow)], capture_output=True, text=True, timeout=60,
                            check=True)
    code, modules = json.loads(result.stdout)
    assert code == 0
    assert [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)] == []

"""The `flowengine` command as a user runs it: help, private Asterisk, serve errors, demo."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Asterisk
from tests.support import processes_using

FLOWENGINE = [sys.executable, "-m", "flowengine.cli.main"]


def flowengine(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    return subprocess.run([*FLOWENGINE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**clean, **(env or {})}, check=False)


@pytest.mark.parametrize("command", [[], ["asterisk"], ["serve"], ["demo"], ["validate"], ["schema"], ["bench"], ["bench", "media"], ["bench", "conversation"], ["bench", "turns"], ["bench", "speech-start"]])
def test_help_everywhere(command: list[str]) -> None:
    result = flowengine(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: flowengine" in result.stdout


def test_private_asterisk_start_status_stop(tmp_path: Path) -> None:
    folder = tmp_path / "ast"
    started = flowengine("asterisk", "start", "--dir", str(folder))
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["running"] is True and info["host"] == "127.0.0.1"
    assert {"ari_port", "ari_username", "ari_password", "ami_port", "ami_secret", "sip_port"} <= info.keys()
    assert info["version"].startswith("16.")
    try:
        status = flowengine("asterisk", "status", "--dir", str(folder))
        assert status.returncode == 0 and json.loads(status.stdout)["pid"] == info["pid"]
        again = flowengine("asterisk", "start", "--dir", str(folder))  # idempotent: same instance
        assert json.loads(again.stdout)["pid"] == info["pid"]
    finally:
        stopped = flowengine("asterisk", "stop", "--dir", str(folder))
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"] is True
    assert processes_using(folder / "etc" / "asterisk.conf") == []  # no orphan
    status = flowengine("asterisk", "status", "--dir", str(folder))
    assert status.returncode == 3 and json.loads(status.stdout)["running"] is False


def test_bad_config_names_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "asterisk:\n  ari_url: ftp://pbx\n  ari_pasword: x\n"
        "media:\n  port_min: 50000\n  port_max: 40000\n  format: opus\n"
        "routes:\n  numbers: [1, 2]\n"
    )
    result = flowengine("serve", "--config", str(config), env={"FLOWENGINE_API__PORT": "eighty"})
    assert result.returncode == 2
    for expected in (
        "asterisk.ari_url: must start with http:// or https://",
        "asterisk.ari_pasword: unknown key",
        "media.port_max: must be >= port_min (50000)",
        "media.format: Input should be 'ulaw' or 'slin16'",
        "routes.numbers: Input should be a valid dictionary",
        "api.port (from FLOWENGINE_API__PORT): Input should be a valid integer",
    ):
        assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_ari_password_is_named(tmp_path: Path) -> None:
    result = flowengine("serve")
    assert result.returncode == 2
    assert "asterisk: ari_password is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_ari_password_is_a_clear_error(asterisk: Asterisk, tmp_path: Path) -> None:
    info = asterisk.info
    config = tmp_path / "wrong.yaml"
    config.write_text(f"asterisk:\n  ari_url: {info.ari_url}\n  ari_username: {info.ari_username}\n"
                      "  ari_password: definitely-wrong\n")
    result = flowengine("serve", "--config", str(config), timeout=30)
    assert result.returncode == 2
    assert f"ARI at {info.ari_url} refused user 'flowengine'" in result.stderr
    assert "definitely-wrong" not in result.stderr + result.stdout  # secrets never printed
    assert "Traceback" not in result.stderr


def test_demo_books_an_appointment_with_the_ai_receptionist(tmp_path: Path) -> None:
    result = flowengine("demo", "--json", "--dir", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    understood = [t["heard_as"] for t in report["turns"]]  # shown when an assertion below fails
    assert report["ended_reason"] == "assistant-ended-call", understood
    assert report["variables"].get("appointment_day") == "Tuesday", understood
    assert report["variables"].get("appointment_name") == "Alex Morgan", understood
    roles = [line["role"] for line in report["transcript"]]
    assert roles[0] == "agent" and roles.count("caller") == 6
    assert len(report["turns"]) == 6 and all(t["voice_to_voice_ms"] for t in report["turns"])
    heard = " ".join(report["heard_by_caller"]).lower()  # the agent's voice, recorded on the caller's line
    assert "tuesday" in heard and "10" in heard and "bright smile" in heard
    for key in ("voice_to_voice_ms", "endpointing_ms", "stt_ms", "llm_first_token_ms", "tts_first_audio_ms",
                "engine_ms"):
        assert key in report["turns"][0]
    assert processes_using(tmp_path / "asterisk" / "etc" / "asterisk.conf") == []


def test_bench_turns_measures_false_cuts_against_the_wait_on_the_corpus() -> None:
    result = flowengine("bench", "turns", "--voices", "1", "--clean-only", "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["paused_lines"] == 5 and report["whole_lines"] > 10 and report["voices"] == ["us-male"]
    for mode in ("plain", "old_judge", "smart"):
        assert 0 <= report[mode]["false_cuts"] <= report["paused_lines"] and report[mode]["wait_ms"]["p50"] is not None
    assert report["plain"]["wait_ms"]["p95"] == 0  # plain VAD never waits beyond its stop time...
    # ...and cuts in on paused lines; weighing what was said and asked cuts in on fewer
    assert report["smart"]["false_cuts"] < report["plain"]["false_cuts"]
    assert report["smart"]["false_cuts"] <= report["old_judge"]["false_cuts"]


def test_a_voice_the_engine_cannot_run_is_a_configuration_error() -> None:
    result = flowengine("serve", env={"FLOWENGINE_SPEECH__TTS": "rime", "FLOWENGINE_ASTERISK__ARI_PASSWORD": "x"})
    assert result.returncode == 2
    assert ("speech.tts (from FLOWENGINE_SPEECH__TTS): 'rime' is not available: this engine has no provider "
            "for Rime") in result.stderr
    assert "Traceback" not in result.stderr
    keyless = flowengine("serve", env={"FLOWENGINE_SPEECH__TTS": "deepgram", "FLOWENGINE_ASTERISK__ARI_PASSWORD": "x",
                                       "DEEPGRAM_API_KEY": ""})
    assert keyless.returncode == 2 and "tts 'deepgram': no api_key for deepgram" in keyless.stderr


@pytest.mark.parametrize(("url", "expected"), [
    ("foo://bar", "store.url: unsupported database 'foo'"),
    ("postgresql+asyncpg://nobody:pw-never-shown@127.0.0.1:1/x", "cannot open the database postgresql+asyncpg://nobody:***@"),
])
def test_a_store_the_engine_cannot_open_is_one_line(asterisk: Asterisk, tmp_path: Path, url: str, expected: str) -> None:
    info = asterisk.info
    config = tmp_path / "store.yaml"
    config.write_text(f"asterisk:\n  ari_url: {info.ari_url}\n  ari_username: {info.ari_username}\n"
                      f"  ari_password: {info.ari_password}\n  app: store-test\n"
                      f"flows_dir: {tmp_path / 'flows'}\nstore:\n  url: '{url}'\n")
    result = flowengine("serve", "--config", str(config), timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"flowengine serve: {expected}" in result.stderr
    assert "pw-never-shown" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "expected"), [
    (b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe binary", "not a text file: a config is YAML in UTF-8"),
    (None, "cannot read it: Is a directory"),
])
def test_a_config_that_is_not_text_is_a_configuration_error(tmp_path: Path, content: bytes | None,
                                                             expected: str) -> None:
    config = tmp_path / "engine.yaml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    for command in (["serve", "--config", str(config)], ["customers", "--config", str(config), "list"],
                    ["campaign", "report", "some-id", "--config", str(config)]):
        result = flowengine(*command)
        assert result.returncode != 0 and "Traceback" not in result.stderr, (command, result.stderr)
        assert f"{config}: 1 problem(s)\n  {expected}" in result.stderr, (command, result.stderr)


@pytest.mark.parametrize(("url", "expected"), [
    ("foo://bar", "store.url: unsupported database 'foo'"),
    ("postgresql+asyncpg://nobody:pw-never-shown@127.0.0.1:1/x", "cannot open the database postgresql+asyncpg://nobody:***@"),
])
def test_campaign_report_on_a_store_it_cannot_open_is_one_line(tmp_path: Path, url: str, expected: str) -> None:
    config = tmp_path / "store.yaml"
    config.write_text(f"store:\n  url: '{url}'\n")  # report reads the store only: no Asterisk settings needed
    result = flowengine("campaign", "report", "some-id", "--config", str(config), timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"flowengine campaign report: {expected}" in result.stderr
    assert "pw-never-shown" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr

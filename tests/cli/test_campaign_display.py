"""`flowengine campaign run` as a person sees it: under a real terminal (tmux), log lines never tear the live
area, and the summary names its units (targets, dials, calls); the report's HTML holds every target."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.campaign.test_cli import write_config
from tests.conftest import Asterisk

PLAN = """\
name: terminal test
max_concurrent_calls: 2
calls_per_second: 10
outplan:
  source: "5550100"
  dial_timeout: 5000
  try_interval: 200
  max_try_count_0: 2
actions:
  - type: sleep
    option: {duration: 1500}
targets: targets.csv
"""
LOG_LINE = re.compile(r"^(\d\d:\d\d:\d\d(\.\d{3})?)?\s+(DEBUG|INFO|WARNING|ERROR)\s")  # rich omits a repeated time
LIVE_PART = re.compile(r"\d+/\d+ targets done|\d+ reached, \d+ not reached|\d+ to retry, \d+ waiting|"
                       r"\d+ up, \d+ ended|ETA (--:--|\d\d:\d\d)")  # what only the live area writes


def tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], check=True, capture_output=True,
                          text=True, timeout=10).stdout


def torn(pane: str) -> list[str]:
    """Lines where a log record and the live area share a line, or a log line sits inside the live area (from its
    title to its `calls` row)."""
    lines = [line for line in pane.splitlines() if line.strip()]
    bad = [line for line in lines if LOG_LINE.search(line) and LIVE_PART.search(line)]
    head = [i for i, line in enumerate(lines) if line.startswith("campaign terminal test")]
    if len(head) > 1:
        bad.append(f"the live area is drawn {len(head)} times")
    if head:
        area = lines[head[-1]:]
        end = next((i for i, line in enumerate(area) if line.startswith("calls ")), len(area))
        bad += [line for line in area[:end + 1] if LOG_LINE.search(line)]
    return bad


@pytest.mark.asterisk
def test_the_live_area_is_never_torn_and_units_are_named(tmp_path: Path, asterisk: Asterisk) -> None:
    config = write_config(tmp_path, asterisk)
    (tmp_path / "plan.yaml").write_text(PLAN)
    (tmp_path / "targets.csv").write_text(
        "name,destination\nann,extension:talk1\nbob,extension:talk2\ncid,extension:busy1\ndee,extension:drop1\n")
    # the terminal's own size, not one a parent process exported
    unset = " ".join(f"-u {k}" for k in os.environ if k.startswith("FLOWENGINE_") or k in ("COLUMNS", "LINES"))
    command = (f"cd {shlex.quote(str(tmp_path))} && env {unset} {shlex.quote(sys.executable)} -m "
               f"flowengine.cli.main campaign run plan.yaml --config {shlex.quote(str(config))}; "
               f"echo EXIT=$?; sleep 120")
    socket = f"fe-test-{uuid.uuid4().hex[:8]}"
    tmux(socket, "new-session", "-d", "-x", "150", "-y", "45", "-s", "run", command)
    panes: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            pane = tmux(socket, "capture-pane", "-p", "-t", "run")
            panes.append(pane)
            if "EXIT=" in pane:
                break
            time.sleep(0.25)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, capture_output=True, timeout=10)
    final = panes[-1]
    assert "EXIT=0" in final, final
    live_seen = [p for p in panes if "targets done" in p and "EXIT=" not in p]
    assert live_seen, panes[-3:]
    assert any(LOG_LINE.search(line) for p in panes for line in p.splitlines()), final  # logs did come
    for pane in panes:
        assert torn(pane) == [], (torn(pane), pane)
    assert "4/4 targets done" in final, final
    assert re.search(r"targets\s+2 reached, 2 not reached", final), final
    assert re.search(r"dials\s+6: 2 answered, 2 busy, 2 failed", final), final  # two tries each on busy, drop
    assert re.search(r"calls\s+2: 0 up, 2 ended", final), final
    assert "finished; report: flowengine campaign report" in final
    campaign_id = re.search(r"report: flowengine campaign report (\S+)", final)
    assert campaign_id is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    report = subprocess.run([sys.executable, "-m", "flowengine.cli.main", "campaign", "report", campaign_id[1],
                             "--config", str(config), "--out", str(tmp_path / "out")], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert report.returncode == 0, report.stderr
    assert re.search(r"targets\s+4\n  reached\s+2\n  not reached\s+2\ndials\s+6\n", report.stdout), report.stdout
    html = (tmp_path / "out" / f"campaign-{campaign_id[1]}.html").read_text()
    rows = {m[1]: m[0] for m in re.finditer(r"<tr><td>(\w+)</td>.*?</tr>", html)}
    assert sorted(rows) == ["ann", "bob", "cid", "dee"]
    assert "reached" in rows["ann"] and "not reached" not in rows["ann"] and "1. answered" in rows["ann"]
    assert "not reached" in rows["cid"] and "1. busy" in rows["cid"] and "2. busy" in rows["cid"]
    assert "not reached" in rows["dee"] and "2. failed" in rows["dee"]

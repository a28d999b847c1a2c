"""`flowengine serve` end to end: private Asterisk, a flow from the flow directory, a real call, SIGTERM."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flowengine.asterisk.ami import AmiClient
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.store import Store
from tests.support import processes_using

FLOW = """\
id: main
name: greeting
actions:
  - type: answer
  - type: talk
    option: {text: "Welcome to flowengine."}
  - type: variable_set
    option: {key: done, value: "yes"}
"""


def wait_for_line(proc: subprocess.Popen[str], needle: str, lines: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline() if proc.stderr else ""
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} not logged; last lines:\n{''.join(lines[-20:])}")


def test_serve_runs_a_flow_from_the_flow_directory(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.yaml").write_text(FLOW)
    config = tmp_path / "engine.yaml"
    config.write_text(f"flows_dir: {tmp_path / 'flows'}\nroutes:\n  default_flow: main\n"
                      f"speech:\n  tts: espeak\n  cache_dir: {tmp_path / 'speech'}\n"
                      f"store:\n  url: sqlite+aiosqlite:///{tmp_path / 'engine.db'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-m", "flowengine.cli.main", "serve", "--config", str(config),
                           "--private-asterisk", str(tmp_path / "ast")],
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env) as proc:
        _drive(proc, tmp_path, lines)
    assert proc.returncode == 0, "".join(lines[-20:])
    assert processes_using(tmp_path / "ast" / "etc" / "asterisk.conf") == []

    async def stored() -> list[tuple[str, str]]:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}")
        try:
            page = await store.activeflows.list_page(ENGINE_CUSTOMER_ID)
            return [(a.status, a.ended_reason) for a in page.items]
        finally:
            await store.aclose()

    assert asyncio.run(stored()) == [("ended", "finished")]  # the call's activeflow, persisted


def _drive(proc: subprocess.Popen[str], tmp_path: Path, lines: list[str]) -> None:
    try:
        wait_for_line(proc, "engine ready", lines)
        wait_for_line(proc, "objects frozen after start-up", lines)  # full collections skip start-up objects
        info = json.loads((tmp_path / "ast" / "instance.json").read_text())

        async def call() -> None:
            ami = AmiClient(info["host"], info["ami_port"], info["ami_username"], info["ami_secret"])
            await ami.connect()
            try:
                result = await ami.originate("Local/5551234@flowengine-inbound", application="Wait", data="10",
                                             codecs="ulaw", timeout_ms=10000)
                assert result.success
            finally:
                await ami.aclose()

        asyncio.run(call())
        wait_for_line(proc, "call flow main ended: finished", lines, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()

"""An engine node for benchmarks and tests: `flowengine serve` as a process on a private Asterisk, its own log."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flowengine.asterisk.instance import InstanceInfo

READY = "engine ready"
# Answers and stays until the caller hangs up (the sleep is longer than any benchmark call).
HOLD_FLOW = """\
id: main
name: answer and hold
actions:
  - type: answer
  - type: sleep
    option: {duration: 600000}
"""


class EngineNodeError(Exception):
    """The engine process exited or did not get ready in time."""


class EngineNode:
    """`flowengine serve` attached to one Asterisk (its ARI app), with its log file in `folder` and a SQLite store
    there unless `store_url` names another (a shared PostgreSQL). `media_ports` keeps each node's externalMedia
    sockets apart when several run on one host; `extra` sections are merged into the config (e.g. `node`)."""

    def __init__(self, name: str, info: InstanceInfo, folder: Path, media_ports: tuple[int, int],
                 flow: str = HOLD_FLOW, store_url: str = "", extra: dict[str, Any] | None = None) -> None:
        self.name = name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "flows").mkdir(exist_ok=True)
        (folder / "flows" / "main.yaml").write_text(flow)
        self.log = folder / "engine.log"
        config: dict[str, Any] = {
            "asterisk": {"ari_url": info.ari_url, "ari_username": info.ari_username,
                         "ari_password": info.ari_password, "app": info.app, "ami_host": info.host,
                         "ami_port": info.ami_port, "ami_username": info.ami_username, "ami_secret": info.ami_secret},
            "media": {"port_min": media_ports[0], "port_max": media_ports[1]},
            "flows_dir": str(folder / "flows"), "routes": {"default_flow": "main"},
            "speech": {"tts": "espeak", "cache_dir": str(folder / "speech"), "warm_up": False},
            "store": {"url": store_url or f"sqlite+aiosqlite:///{folder / 'engine.db'}"},
        }
        for section, values in (extra or {}).items():
            config[section] = {**config.get(section, {}), **values} if isinstance(values, dict) else values
        path = folder / "engine.json"
        path.write_text(json.dumps(config))  # YAML is a superset of JSON
        path.chmod(0o600)  # holds the ARI password
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "flowengine.cli.main", "serve", "--config", str(path)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out, env=env,
                                         start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.wait_for(READY, timeout=timeout)

    def wait_for(self, needle: str, count: int = 1, timeout: float = 60.0) -> None:
        """Until `needle` has been logged `count` times; EngineNodeError with the log's tail if it exits first."""
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.text().splitlines()[-15:])
                raise EngineNodeError(f"engine node {self.name}: {needle!r} x{count} not logged "
                                      f"(exit {self.proc.poll()}):\n{tail}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to the node and every process it started (its session): a crash, nothing cleaned up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the engine's clean shutdown), then SIGKILL to whatever of its session is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()

"""Two engine nodes (`flowengine serve`) on two Asterisks behind Kamailio: calls run flows on both; kill -9 one
engine and its Asterisk refuses with 503, so Kamailio sends every later call to the other node."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asterisk.cluster import Cluster, Node, running_cluster
from tests.asterisk.sipp import Softphone

pytestmark = pytest.mark.asterisk

FLOW = """\
id: main
name: greeting
actions:
  - type: answer
  - type: talk
    option: {text: "Hello."}
"""
ENDED = "call flow main ended: finished"
MEDIA_PORTS = {"a": (40000, 44999), "b": (45000, 49999)}  # externalMedia ranges: two engines on one host


class EngineNode:
    """`flowengine serve` for one node: its own Asterisk (ARI app node-<name>), SQLite store and log file."""

    def __init__(self, node: Node, folder: Path, flows: Path) -> None:
        self.node = node
        self.log = folder / f"engine-{node.name}.log"
        i = node.info
        low, high = MEDIA_PORTS[node.name]
        config = {
            "asterisk": {"ari_url": i.ari_url, "ari_username": i.ari_username, "ari_password": i.ari_password,
                         "app": i.app, "ami_host": i.host, "ami_port": i.ami_port, "ami_username": i.ami_username,
                         "ami_secret": i.ami_secret},
            "media": {"port_min": low, "port_max": high},
            "flows_dir": str(flows), "routes": {"default_flow": "main"},
            "speech": {"tts": "espeak", "cache_dir": str(folder / f"speech-{node.name}"), "warm_up": False},
            "store": {"url": f"sqlite+aiosqlite:///{folder / f'engine-{node.name}.db'}"},
        }
        path = folder / f"engine-{node.name}.json"
        path.write_text(json.dumps(config))  # YAML is a superset of JSON
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "flowengine.cli.main", "serve", "--config", str(path)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out, env=env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, count: int = 1, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"engine {self.node.name}: {needle!r} x{count} not logged; last lines:\n"
                                     + "\n".join(self.text().splitlines()[-20:]))
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp) as running:
        yield running


@pytest.fixture(scope="module")
def engines(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EngineNode]]:
    folder = tmp_path_factory.mktemp("engines")
    (folder / "flows").mkdir()
    (folder / "flows" / "main.yaml").write_text(FLOW)
    started = {name: EngineNode(node, folder, folder / "flows") for name, node in cluster.nodes.items()}
    try:
        for engine in started.values():
            engine.wait_for("engine ready")
        yield started
    finally:
        for engine in started.values():
            engine.stop()


async def calls(cluster: Cluster, tmp_path: Path, count: int) -> None:
    """`count` calls at once through Kamailio; the flow answers, speaks and hangs up (SIPp gets the BYE)."""
    info = cluster.kamailio.load_info()
    assert info is not None
    phones = [Softphone((info.host, info.port), f"caller{i}", "", "127.0.0.1", tmp_path) for i in range(count)]
    results = await asyncio.gather(*(p.run("call_hungup.xml", timeout=60) for p in phones))
    for result in results:
        assert result.ok, result.messages


async def test_calls_run_their_flow_on_both_engine_nodes(cluster: Cluster, engines: dict[str, EngineNode],
                                                         tmp_path: Path) -> None:
    await calls(cluster, tmp_path, 4)
    for engine in engines.values():
        await asyncio.to_thread(engine.wait_for, ENDED, 2, 30)  # round-robin: two each


async def test_a_killed_engine_node_gets_no_more_calls(cluster: Cluster, engines: dict[str, EngineNode],
                                                       tmp_path: Path) -> None:
    a, b = engines["a"], engines["b"]
    before = a.text().count(ENDED), b.text().count(ENDED)
    b.proc.kill()  # kill -9: its Asterisk lives on, answers OPTIONS, and has no engine for its Stasis app
    b.proc.wait()
    await calls(cluster, tmp_path, 4)
    await asyncio.to_thread(a.wait_for, ENDED, before[0] + 4, 30)
    assert b.text().count(ENDED) == before[1]
    b_uri = cluster.nodes["b"].destination.uri
    assert f"Asterisk {b_uri} failed (503)" in cluster.kamailio.log_tail(200)

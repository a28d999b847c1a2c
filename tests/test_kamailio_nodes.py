"""Two engine nodes (`flowengine serve`) on two Asterisks behind Kamailio: calls run flows on both; kill -9 one
engine and its Asterisk refuses with 503, so Kamailio sends every later call to the other node."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.bench.engine_node import EngineNode
from tests.asterisk.cluster import Cluster, running_cluster
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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp) as running:
        yield running


@pytest.fixture(scope="module")
def engines(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EngineNode]]:
    folder = tmp_path_factory.mktemp("engines")
    started = {name: EngineNode(name, node.info, folder / name, MEDIA_PORTS[name], FLOW)
               for name, node in cluster.nodes.items()}
    try:
        for engine in started.values():
            engine.wait_ready()
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
    b.kill()  # kill -9: its Asterisk lives on, answers OPTIONS, and has no engine for its Stasis app
    await calls(cluster, tmp_path, 4)
    await asyncio.to_thread(a.wait_for, ENDED, before[0] + 4, 30)
    assert b.text().count(ENDED) == before[1]
    b_uri = cluster.nodes["b"].destination.uri
    assert f"Asterisk {b_uri} failed (503)" in cluster.kamailio.log_tail(200)

"""Engine nodes sharing a store, on the real Asterisk (issue 20.1): a second node on a held ARI app refuses before
touching Asterisk and the first node's calls stay up; a node on another app leaves them alone; a node killed with
calls up is settled by a live one, the reason naming it."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.config import AsteriskConfig, Config, NodeConfig, RoutesConfig, SpeechConfig, StoreConfig
from flowengine.runtime import Engine, asterisk_config_for, derived_node_id
from flowengine.store import Store, generate_secret_key
from flowengine.store.nodes import NodeConflictError
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.conftest import Asterisk
from tests.store import conftest as store_fixtures
from tests.store.pgserver import PostgresServer
from tests.support import eventually

postgres = store_fixtures.postgres
KEY = generate_secret_key()
LIVE = ("dialing", "ringing", "progressing")
FLOW = "id: main\nname: main\nactions:\n  - type: answer\n  - type: sleep\n    option: {duration: 60000}\n"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'nodes.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return await server.create_database(f"nodes_{tmp_path.name[-24:].replace('-', '_')}")


@pytest.fixture
async def pg_url(postgres: PostgresServer, tmp_path: Path) -> str:
    return await postgres.create_database(f"nodes_{tmp_path.name[-24:].replace('-', '_')}")


def node_config(asterisk: Asterisk, tmp_path: Path, url: str, app: str, node_id: str, lease_s: float = 1.0) -> Config:
    flows = tmp_path / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "main.yaml").write_text(FLOW)
    return Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(update={"app": app}),
        store=StoreConfig(url=url, secret_key=SecretStr(KEY)),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        flows_dir=str(flows), routes=RoutesConfig(default_flow="main"),
        node=NodeConfig(id=node_id, lease_s=lease_s))


async def call_into(asterisk: Asterisk, app: str) -> str:
    """A caller that stays on the line, sent into `app` (a node's calls come in like this): its channel id."""
    i = asterisk.info
    caller = AriClient(i.ari_url, i.ari_username, i.ari_password, app)
    try:
        return (await caller.channels.originate("Local/wait@flowengine-test", formats="ulaw")).id
    finally:
        await caller.aclose()


async def live_calls(store: Store) -> list[str]:
    """Channel ids of the live call records."""
    return [c.channel_id for c in await store.calls.of_every_customer(filters={"status": list(LIVE)})]


async def answered(store: Store, count: int) -> None:
    async def up() -> bool:
        calls = await store.calls.of_every_customer(filters={"status": "progressing"})
        return len(calls) >= count
    await eventually(up, timeout=20, what=f"{count} call(s) answered")


async def hang_up(asterisk: Asterisk, app: str, channels: list[str]) -> None:
    i = asterisk.info
    ari = AriClient(i.ari_url, i.ari_username, i.ari_password, app)
    try:
        for channel in channels:
            await ChannelHandle(ari, channel).hangup()
    finally:
        await ari.aclose()


@pytest.fixture
async def node_a(asterisk: Asterisk, tmp_path: Path, store_url: str) -> AsyncIterator[Engine]:
    engine = Engine(node_config(asterisk, tmp_path / "a", store_url, "nodes-a", "node-a"))
    await engine.start()
    try:
        yield engine
    finally:
        await engine.aclose()


async def test_a_second_node_on_a_held_app_refuses_before_touching_asterisk(
        asterisk: Asterisk, tmp_path: Path, node_a: Engine) -> None:
    assert node_a.store is not None and node_a.ari is not None
    callers = [await call_into(asterisk, "nodes-a") for _ in range(2)]
    await answered(node_a.store, 2)
    calls = await live_calls(node_a.store)
    for config_id in ("node-b", ""):  # another id, or the default (another process on this host and app)
        second = Engine(node_config(asterisk, tmp_path / "b", node_a.config.store.url, "nodes-a", config_id))
        with pytest.raises(NodeConflictError, match="ARI app 'nodes-a' is held by live node 'node-a'"):
            await second.start()
        assert second.ari is None and second.app is None  # it never reached Asterisk
    # A's calls are up, its app still its own: nothing replaced, and a new call still reaches it
    await asyncio.sleep(0.5)
    assert sorted(await live_calls(node_a.store)) == sorted(calls)
    present = {c.id for c in await node_a.ari.channels.list()}
    assert set(callers) <= present
    assert not node_a.ari.replaced and node_a.ari.problem == ""
    callers.append(await call_into(asterisk, "nodes-a"))
    await answered(node_a.store, 3)
    await hang_up(asterisk, "nodes-a", callers)


async def test_serve_on_a_held_app_exits_with_the_reason_and_the_calls_stay_up(
        asterisk: Asterisk, tmp_path: Path, node_a: Engine) -> None:
    assert node_a.store is not None
    caller = await call_into(asterisk, "nodes-a")
    await answered(node_a.store, 1)
    i = asterisk.info
    config = tmp_path / "second.yaml"
    config.write_text(f"asterisk:\n  ari_url: {i.ari_url}\n  ari_username: {i.ari_username}\n"
                      f"  ari_password: {i.ari_password}\n  app: nodes-a\n"
                      f"flows_dir: {tmp_path / 'a' / 'flows'}\nspeech:\n  tts: espeak\n  warm_up: false\n"
                      f"store:\n  url: '{node_a.config.store.url}'\n  secret_key: '{KEY}'\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flowengine.cli.main", "serve", "--config", str(config),
        env=clean, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, err.decode()
    assert "flowengine serve: ARI app 'nodes-a' is held by live node 'node-a'" in err.decode()
    assert "Traceback" not in err.decode()
    assert await live_calls(node_a.store) != [] and caller in {c.id for c in await node_a.ari.channels.list()}  # type: ignore[union-attr]
    await hang_up(asterisk, "nodes-a", [caller])


async def test_a_node_on_another_app_leaves_the_first_nodes_calls_alone(
        asterisk: Asterisk, tmp_path: Path, pg_url: str) -> None:
    first = Engine(node_config(asterisk, tmp_path / "a", pg_url, "nodes-pa", "node-pa"))
    await first.start()
    try:
        assert first.store is not None
        callers = [await call_into(asterisk, "nodes-pa") for _ in range(2)]
        await answered(first.store, 2)
        flows = await first.store.activeflows.of_every_customer(filters={"status": "running"})
        other = Engine(node_config(asterisk, tmp_path / "b", pg_url, "nodes-pb", "node-pb"))
        await other.start()
        try:
            await asyncio.sleep(1.5)  # beyond both leases: renewals and sweeps ran
            assert len(await live_calls(first.store)) == 2
            assert await first.store.activeflows.of_every_customer(filters={"status": "running"}) == flows
            assert first.ari is not None and set(callers) <= {c.id for c in await first.ari.channels.list()}
        finally:
            await other.aclose()
        assert len(await live_calls(first.store)) == 2  # a node stopping leaves others' calls too
        await hang_up(asterisk, "nodes-pa", callers)
    finally:
        await first.aclose()


async def test_a_killed_nodes_records_are_settled_by_a_live_node_naming_it(
        asterisk: Asterisk, tmp_path: Path, pg_url: str) -> None:
    i = asterisk.info
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(FLOW)
    config = tmp_path / "killed.yaml"
    config.write_text(f"asterisk:\n  ari_url: {i.ari_url}\n  ari_username: {i.ari_username}\n"
                      f"  ari_password: {i.ari_password}\n  app: nodes-killed\n"
                      f"flows_dir: {flows}\nroutes:\n  default_flow: main\nspeech:\n  tts: espeak\n  warm_up: false\n"
                      f"  cache_dir: {tmp_path / 'speech'}\n"
                      f"store:\n  url: '{pg_url}'\n  secret_key: '{KEY}'\nnode:\n  id: node-killed\n  lease_s: 1\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    killed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flowengine.cli.main", "serve", "--config", str(config), env=clean,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    store = await Store.open(pg_url, secret_keys=[KEY])
    callers: list[str] = []
    try:
        async def holds() -> bool:
            return await store.nodes.holder("nodes-killed") is not None
        await eventually(holds, timeout=60, what="the first node up")
        await asyncio.sleep(1)  # its ARI app registered after its claim
        callers = [await call_into(asterisk, "nodes-killed")]
        await answered(store, 1)
        killed.send_signal(signal.SIGKILL)
        await killed.wait()
        [(call, owner)] = await store.calls.owned(filters={"status": list(LIVE)})
        [(flow_run, _)] = await store.activeflows.owned(filters={"status": "running"})
        assert owner == "node-killed"

        live = Engine(node_config(asterisk, tmp_path / "b", pg_url, "nodes-live", "node-live", lease_s=1.0))
        await live.start()
        try:
            assert live.lease is not None
            lease = live.lease
            await eventually(lambda: lease.settled_nodes == ["node-killed"], timeout=10, what="the killed node settled")
            record = await store.calls.get(ENGINE_CUSTOMER_ID, call.id)
            assert (record.hangup_reason, record.hangup_by) == ("failed", "local")
            assert (record.metadata or {})["hangup_detail"] == "node-lost:node-killed"
            ended = await store.activeflows.get(ENGINE_CUSTOMER_ID, flow_run.id)
            assert ended.status == "ended" and ended.ended_reason.startswith("node-lost:node-killed while running")
            node = await store.nodes.get("node-killed")
            assert node is not None and node.status == "lost"
            # the live node hung up none of the killed node's channels: they are another app's
            assert live.ari is not None and set(callers) <= {c.id for c in await live.ari.channels.list()}
        finally:
            await live.aclose()
        # restarted, the killed node may start again (its lease ran out) and clears its app's leftovers
        again = Engine(node_config(asterisk, tmp_path / "c", pg_url, "nodes-killed", "node-killed"))
        await again.start()
        try:
            assert set(callers) <= set(again.leftovers.channel_ids)
            callers = []
        finally:
            await again.aclose()
    finally:
        if killed.returncode is None:
            killed.kill()
            await killed.wait()
        await store.aclose()
        if callers:
            await hang_up(asterisk, "nodes-killed", callers)


def test_the_default_node_id_is_the_host_and_the_app_in_the_ids_characters() -> None:
    assert derived_node_id("pbx-1.example.com", "flowengine") == "pbx-1.example.com:flowengine"
    assert derived_node_id("odd host/name", "app") == "odd-host-name:app"
    assert len(derived_node_id("h" * 300, "app")) == 128


async def test_a_second_node_on_the_same_private_asterisk_leaves_it_running(tmp_path: Path) -> None:
    from flowengine.asterisk.instance import PrivateAsterisk

    def config(name: str) -> Config:
        (tmp_path / name / "flows").mkdir(parents=True)
        return Config(asterisk=AsteriskConfig(private_dir=str(tmp_path / "ast")),
                      store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}", secret_key=SecretStr(KEY)),
                      speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / name / "speech"), warm_up=False),
                      flows_dir=str(tmp_path / name / "flows"), node=NodeConfig(lease_s=1.0))

    first = Engine(config("a"))
    await first.start()
    try:
        second = Engine(config("b"))
        with pytest.raises(NodeConflictError, match="is held by live node"):
            await second.start()
        assert second.private is None  # it never started (nor, failing, stopped) the Asterisk the first runs on
        assert PrivateAsterisk(tmp_path / "ast").running()
        assert first.ari is not None and first.ari.connected.is_set() and first.ari.problem == ""
    finally:
        await first.aclose()

"""The engine as one owner: a start that fails half-way closes exactly what had started, nothing leaks."""
from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from flowengine.api.server import ApiStartError
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.rest import AriHTTPError
from flowengine.asterisk.instance import PrivateAsterisk
from flowengine.config import ApiConfig, AsteriskConfig, Config, SpeechConfig, StoreConfig
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import generate_secret_key
from tests.conftest import Asterisk
from tests.support import eventually, processes_using


def engine_config(tmp_path: Path, **sections: object) -> Config:
    (tmp_path / "flows").mkdir(exist_ok=True)
    base = {
        "store": StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}",
                             secret_key=generate_secret_key()),  # type: ignore[arg-type]
        "speech": SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        "flows_dir": str(tmp_path / "flows"),
    }
    return Config(**{**base, **sections})  # type: ignore[arg-type]


async def ari_apps(ari: AriClient) -> set[str]:
    return {str(app["name"]) for app in await ari.rest.get("/applications")}


@pytest.mark.asterisk
async def test_a_bad_store_fails_the_start_before_the_private_asterisk(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")  # the store's folder cannot be made under a file
    config = engine_config(
        tmp_path, asterisk=AsteriskConfig(private_dir=str(tmp_path / "ast")),
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'not-a-folder' / 'engine.db'}"))
    tasks_before = asyncio.all_tasks()
    engine = Engine(config)
    with pytest.raises(OSError):
        await engine.start()
    # the store comes before anything touches Asterisk, a private one included (issue 20: a node that cannot
    # open its store must not clear the ARI app of a node that runs, nor stop the Asterisk it runs on)
    assert engine.private is None
    assert engine.ari is None and engine.ami is None
    assert engine.store is None and engine.app is None and engine.api is None
    assert not PrivateAsterisk(tmp_path / "ast").running()
    assert processes_using(tmp_path / "ast" / "etc" / "asterisk.conf") == []
    assert asyncio.all_tasks() - tasks_before == set()
    await engine.aclose()  # closing again does nothing


@pytest.mark.asterisk
async def test_an_api_port_in_use_fails_the_start_and_closes_the_parts_started(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    app = "flowengine-runtimetest"
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.yaml").write_text("id: main\nname: main\nactions:\n  - type: empty\n")
    config = engine_config(
        tmp_path, asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
            update={"app": app}),
        api=ApiConfig(enabled=True, host="127.0.0.1", port=taken.getsockname()[1]))
    tasks_before = asyncio.all_tasks()
    engine = Engine(config)
    try:
        with pytest.raises(ApiStartError, match="address already in use"):
            await engine.start()
    finally:
        taken.close()
    # everything up to the API had started: the flows' parts, the ARI app taking calls
    assert engine.store is not None and engine.flow_service is not None and engine.app is not None
    assert engine.ari is not None and not engine.ari.connected.is_set()

    async def forgotten() -> bool:  # the events WebSocket is closed: Asterisk forgets the app
        try:
            return app not in await ari_apps(ari)
        except AriHTTPError:  # Asterisk 16 may answer 500 "Allocation failed" while it destroys the app
            return False

    await eventually(forgotten, 10, what="Asterisk forgot the app")
    await eventually(lambda: asyncio.all_tasks() - tasks_before == set(), what="no task left behind")
    with pytest.raises(RuntimeError, match="closed"):
        await engine.flow_service.start_flow("main")  # closed parts start nothing


@pytest.mark.asterisk
async def test_the_engine_closes_in_reverse_order_of_start_up(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowengine.ai.aicall import AICallService
    from flowengine.api.server import ApiServer
    from flowengine.asterisk.app import AriApp
    from flowengine.asterisk.media_server import MediaServer
    from flowengine.flow.callregistry import CallRegistry
    from flowengine.flow.service import FlowService
    from flowengine.store import Store

    closed: list[str] = []
    for kind in (ApiServer, AriApp, CallRegistry, FlowService, AICallService, MediaServer, Store, AriClient):
        original = kind.aclose

        async def record(self: object, *args: object, _kind: type = kind, _original: object = original) -> None:
            if not (_kind is AriClient and self is ari):
                closed.append(_kind.__name__)
            await _original(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(kind, "aclose", record)
    config = engine_config(
        tmp_path, asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
            update={"app": "flowengine-runtimetest"}),
        api=ApiConfig(enabled=True, port=0))
    engine = Engine(config)
    await engine.start()
    await engine.aclose()
    # the API and the ARI app stop taking work first; the flows stop before the AI calls; the ARI client, then
    # the store go last (the node's claim on its ARI app, in the store, is given up when all else has stopped)
    assert closed == ["ApiServer", "AriApp", "CallRegistry", "FlowService", "AICallService", "MediaServer",
                      "AriClient", "Store"]


@pytest.mark.asterisk
async def test_the_engine_serves_an_edited_ai_file_without_a_restart(asterisk: Asterisk, tmp_path: Path) -> None:
    ais = tmp_path / "flows" / "ais"
    ais.mkdir(parents=True)
    agent = ais / "agent.yaml"
    agent.write_text("engine_model: rules.appointments\ninit_prompt: first\n")
    config = engine_config(tmp_path, asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct())
                           .model_copy(update={"app": "flowengine-runtimetest"}))
    engine = Engine(config)
    await engine.start()
    try:
        assert engine.aicalls is not None
        service = engine.aicalls
        assert service.resolve("ai", "agent").ai.init_prompt == "first"
        agent.write_text("engine_model: rules.appointments\ninit_prompt: second\n")
        mtime = agent.stat().st_mtime_ns + 1_000_000_000  # a new mtime within the file system's resolution
        os.utime(agent, ns=(mtime, mtime))
        await eventually(lambda: service.resolve("ai", "agent").ai.init_prompt == "second", what="the new prompt")
    finally:
        await engine.aclose()

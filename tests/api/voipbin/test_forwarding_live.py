"""Two engine nodes on one PostgreSQL and one Asterisk (each its own ARI app): a call dialled by node A is hung
up through node B's API, which forwards the hangup to A over the notification bus."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from flowengine.asterisk.ari.rest import AriNotFound
from flowengine.config import (
    ApiConfig,
    AsteriskConfig,
    Config,
    NodeConfig,
    OutboundConfig,
    RoutesConfig,
    SpeechConfig,
    StoreConfig,
)
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import generate_secret_key
from tests.api.conftest import Tenant, new_tenant
from tests.conftest import Asterisk
from tests.store.pgserver import PostgresServer
from tests.support import eventually

ADMIN = "forwarding-admin-key-0123456789abcdef"
KEY = generate_secret_key()


def node_config(asterisk: Asterisk, tmp_path: Path, url: str, name: str) -> Config:
    flows = tmp_path / f"flows-{name}"
    flows.mkdir()
    (flows / "main.yaml").write_text("id: main\nname: main\nactions:\n  - type: answer\n")
    return Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
            update={"app": f"flowengine-{name}"}),
        api=ApiConfig(enabled=True, port=0, admin_key=SecretStr(ADMIN)),
        store=StoreConfig(url=url, secret_key=SecretStr(KEY)),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / f"speech-{name}")),
        outbound=OutboundConfig(endpoints={"tel": "Local/{target}@flowengine-test"}, dial_timeout_s=4),
        flows_dir=str(flows), routes=RoutesConfig(default_flow="main"), node=NodeConfig(id=name),
    )


@pytest.fixture
async def two_nodes(asterisk: Asterisk, postgres: PostgresServer, tmp_path: Path
                    ) -> AsyncIterator[tuple[Engine, Engine, httpx.AsyncClient, httpx.AsyncClient, Tenant]]:
    url = await postgres.create_database(f"forwarding_live_{uuid4().hex[:8]}")
    async with AsyncExitStack() as stack:
        engines = []
        clients = []
        for name in ("node-a", "node-b"):
            engine = Engine(node_config(asterisk, tmp_path, url, name))
            await engine.start()
            stack.push_async_callback(engine.aclose)
            assert engine.api is not None
            clients.append(await stack.enter_async_context(
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}", timeout=30)))
            engines.append(engine)
        assert engines[0].store is not None
        tenant = await new_tenant(engines[0].store, "A")
        yield engines[0], engines[1], clients[0], clients[1], tenant
    await eventually(lambda: not [c for c in asterisk.channels() if "flowengine-test" in c], timeout=15,
                     what="test channels gone")


async def call_up_on_a(http_a: httpx.AsyncClient, http_b: httpx.AsyncClient, tenant: Tenant) -> str:
    """A call dialled through node a (so node a owns it), once node b sees it up; its id."""
    r = await http_a.post("/v1.0/calls", headers=tenant.headers, json={
        "source": {"type": "tel", "target": "5550100"}, "destinations": [{"type": "tel", "target": "wait"}],
        "actions": [{"type": "answer"}, {"type": "sleep", "option": {"duration": 30000}}]})
    assert r.status_code == 200, r.text
    call_id: str = r.json()["calls"][0]["id"]

    async def up() -> bool:
        got: dict[str, Any] = (await http_b.get(f"/v1.0/calls/{call_id}", headers=tenant.headers)).json()
        return bool(got["status"] == "progressing")

    await eventually(up, timeout=20, what="the call up, seen from node b")
    return call_id


@pytest.mark.asterisk
async def test_a_call_of_node_a_is_hung_up_through_node_b(
        two_nodes: tuple[Engine, Engine, httpx.AsyncClient, httpx.AsyncClient, Tenant], asterisk: Asterisk) -> None:
    a, b, http_a, http_b, tenant = two_nodes
    call_id = await call_up_on_a(http_a, http_b, tenant)
    ari = asterisk.client()
    await ari.start()
    try:
        assert (await ari.channels.get(call_id)).snapshot.state == "Up"
        assert a.store is not None and await a.store.calls.owner_of(tenant.id, call_id) == "node-a"
        talk = await http_b.post(f"/v1.0/calls/{call_id}/talk", json={"text": "One moment please."},
                                 headers=tenant.headers)
        assert talk.status_code == 200, talk.text
        hung = await http_b.post(f"/v1.0/calls/{call_id}/hangup", headers=tenant.headers)
        assert hung.status_code == 200, hung.text
        assert hung.json()["status"] == "hangup" and hung.json()["hangup_by"] == "local"
        with pytest.raises(AriNotFound):  # node a hung its channel up
            await ari.channels.get(call_id)
    finally:
        await ari.aclose()
    assert b.forwarder is not None and b.forwarder.forwarded == 2
    assert a.forwarder is not None and a.forwarder.requests.served == 2
    # an ended call is answered by any node from the store, unchanged: nothing travels
    again = await http_b.post(f"/v1.0/calls/{call_id}/hangup", headers=tenant.headers)
    assert again.json() == hung.json() and b.forwarder.forwarded == 2


@pytest.mark.asterisk
async def test_every_control_of_node_as_call_works_through_node_b(
        two_nodes: tuple[Engine, Engine, httpx.AsyncClient, httpx.AsyncClient, Tenant], asterisk: Asterisk) -> None:
    a, b, http_a, http_b, tenant = two_nodes
    call_id = await call_up_on_a(http_a, http_b, tenant)
    url = f"/v1.0/calls/{call_id}"
    assert b.forwarder is not None and a.forwarder is not None
    # validation stays at node b's route: nothing travels for a bad body
    bad = await http_b.post(f"{url}/recording_start", json={"end_of_key": "x"}, headers=tenant.headers)
    assert bad.status_code == 400 and b.forwarder.forwarded == 0
    steps = [("post", "hold", None), ("delete", "hold", None), ("post", "mute", {"direction": "in"}),
             ("delete", "mute", {"direction": "in"}), ("post", "moh", None), ("delete", "moh", None),
             ("post", "recording_start", {"duration": 30}), ("post", "recording_stop", None)]
    views = {}
    for method, op, body in steps:
        answer = await http_b.request(method.upper(), f"{url}/{op}", json=body, headers=tenant.headers)
        assert answer.status_code == 200, (method, op, answer.text)
        assert answer.json()["id"] == call_id and answer.json()["status"] == "progressing"
        views[method, op] = answer.json()
    assert b.forwarder.forwarded == len(steps) and a.forwarder.requests.served == len(steps)
    assert views["post", "mute"]["mute_direction"] == "in" and views["delete", "mute"]["mute_direction"] == ""
    recorded = views["post", "recording_start"]["recording_ids"]
    assert len(recorded) == 1 and views["post", "recording_start"]["recording_id"] == recorded[0]
    # DELETE on node b: node a hangs its channel up, then the record is deleted
    deleted = await http_b.delete(url, headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "hangup" and deleted.json()["hangup_by"] == "local"
    assert b.forwarder.forwarded == len(steps) + 1
    ari = asterisk.client()
    await ari.start()
    try:
        with pytest.raises(AriNotFound):
            await ari.channels.get(call_id)
    finally:
        await ari.aclose()

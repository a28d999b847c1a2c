"""/v1.0/calls on the real private Asterisk: the engine with its API, calls dialled through Local channels."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flowengine.asterisk.ari.rest import AriNotFound
from flowengine.config import (
    ApiConfig,
    AsteriskConfig,
    CallsConfig,
    Config,
    OutboundConfig,
    RoutesConfig,
    SpeechConfig,
    StoreConfig,
)
from flowengine.events import Event as BusEvent
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import generate_secret_key
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.api.conftest import Tenant, new_tenant
from tests.conftest import Asterisk
from tests.support import eventually

ADMIN = "live-admin-key-0123456789abcdef"


@dataclass
class Live:
    engine: Engine
    http: httpx.AsyncClient
    tenant: Tenant
    other: Tenant
    events: list[BusEvent]

    def types(self, call_id: str) -> list[str]:
        return [e.type for e in self.events if e.type.startswith("call_") and e.data.get("id") == call_id]

    async def call(self, call_id: str, who: Tenant | None = None) -> dict[str, Any]:
        r = await self.http.get(f"/v1.0/calls/{call_id}", headers=(who or self.tenant).headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def wait_status(self, call_id: str, status: str, timeout: float = 20) -> dict[str, Any]:
        last: dict[str, Any] = {}
        for _ in range(int(timeout / 0.1)):
            last = await self.call(call_id)
            if last["status"] == status:
                return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"call {call_id} never {status}: {last.get('status')}")

    async def dial(self, actions: list[dict[str, Any]], target: str = "wait") -> dict[str, Any]:
        r = await self.http.post("/v1.0/calls", headers=self.tenant.headers, json={
            "source": {"type": "tel", "target": "5550100"},
            "destinations": [{"type": "tel", "target": target}], "actions": actions})
        assert r.status_code == 200, r.text
        calls: list[dict[str, Any]] = r.json()["calls"]
        assert len(calls) == 1 and r.json()["groupcalls"] == []
        return calls[0]


@pytest.fixture
async def live(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Live]:
    config = Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
            update={"app": "flowengine-apitest"}),
        api=ApiConfig(enabled=True, port=0, admin_key=SecretStr(ADMIN)),
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}",
                          secret_key=SecretStr(generate_secret_key())),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech")),
        outbound=OutboundConfig(endpoints={"tel": "Local/{target}@flowengine-test"}, dial_timeout_s=4),
        calls=CallsConfig(recordings_dir=str(asterisk.instance.directory / "spool" / "recording")),
        flows_dir=str(tmp_path / "flows"), routes=RoutesConfig(default_flow="main"),
    )
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.yaml").write_text(
        "id: main\nname: main\nactions:\n  - type: answer\n  - type: sleep\n    option: {duration: 500}\n")
    engine = Engine(config)
    await engine.start()
    events: list[BusEvent] = []
    unsubscribe = engine.events.subscribe(events.append)
    try:
        assert engine.store is not None and engine.api is not None
        tenant = await new_tenant(engine.store, "A")
        other = await new_tenant(engine.store, "B")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api.port}", timeout=30) as http:
            yield Live(engine, http, tenant, other, events)
    finally:
        unsubscribe()
        await engine.aclose()
    await eventually(lambda: not [c for c in asterisk.channels() if "flowengine-test" in c], timeout=15,
                     what="test channels gone")


async def test_inline_actions_run_on_the_answered_call_and_it_ends_hung_up(live: Live) -> None:
    call = await live.dial([{"type": "answer"}, {"type": "talk", "option": {"text": "Hello there."}},
                            {"type": "variable_set", "option": {"key": "reached", "value": "yes"}},
                            {"type": "hangup"}])
    assert call["status"] == "dialing" and call["direction"] == "outgoing"
    assert call["customer_id"] == live.tenant.id and "channel_id" not in call
    done = await live.wait_status(call["id"], "hangup", timeout=30)
    assert done["hangup_by"] == "local" and done["hangup_reason"] == "normal"
    assert done["tm_progressing"] != "9999-01-01 00:00:00.000000"
    af = (await live.http.get(f"/v1.0/activeflows/{done['activeflow_id']}", headers=live.tenant.headers)).json()
    assert af["status"] == "ended" and af["reference_type"] == "call" and af["reference_id"] == call["id"]
    assert [a["type"] for a in af["executed_actions"]][-3:] == ["answer", "talk", "variable_set"]
    assert af["current_action"]["type"] == "hangup"
    types = live.types(call["id"])
    assert types[0] == "call_created" and "call_progressing" in types and types[-1] == "call_hangup"
    assert all(e.customer_id == live.tenant.id for e in live.events if e.data.get("id") == call["id"])
    listed = (await live.http.get("/v1.0/calls", headers=live.tenant.headers)).json()["result"]
    assert [c["id"] for c in listed] == [call["id"]]
    # the other customer sees none of it: not by id, not in its lists, not with filters
    assert (await live.http.get(f"/v1.0/calls/{call['id']}", headers=live.other.headers)).status_code == 404
    theirs = await live.http.get("/v1.0/calls", params={"status": "hangup"}, headers=live.other.headers)
    assert theirs.json()["result"] == []
    assert (await live.http.post(f"/v1.0/calls/{call['id']}/hangup", headers=live.other.headers)).status_code == 404


async def test_hangup_mute_hold_act_on_the_live_channel(live: Live, asterisk: Asterisk) -> None:
    call = await live.dial([{"type": "answer"}, {"type": "sleep", "option": {"duration": 30000}}])
    await live.wait_status(call["id"], "progressing")
    ari = asterisk.client()
    await ari.start()

    moh: list[str] = []
    ami = live.engine.ami
    assert ami is not None
    # an unbridged channel in Stasis that is put on hold hears music on hold: AMI sees it on the channel
    subs = [ami.subscribe("MusicOnHold*", lambda m: moh.append(str(m.get("Event")))
                          if str(m.get("Channel")).startswith("Local/wait@flowengine-test") else None)]
    try:
        # the engine's channel is the call's id; another ARI client sees it
        channel = await ari.channels.get(call["id"])
        assert channel.snapshot.state == "Up"
        muted = await live.http.post(f"/v1.0/calls/{call['id']}/mute", json={"direction": "in"},
                                     headers=live.tenant.headers)
        assert muted.status_code == 200 and muted.json()["mute_direction"] == "in"
        both = await live.http.post(f"/v1.0/calls/{call['id']}/mute", json={"direction": "out"},
                                    headers=live.tenant.headers)
        assert both.json()["mute_direction"] == "both"
        unmuted = await live.http.request("DELETE", f"/v1.0/calls/{call['id']}/mute", json={"direction": "both"},
                                          headers=live.tenant.headers)
        assert unmuted.status_code == 200 and unmuted.json()["mute_direction"] == ""
        assert (await live.http.post(f"/v1.0/calls/{call['id']}/hold", headers=live.tenant.headers)).status_code == 200
        assert (await live.http.delete(f"/v1.0/calls/{call['id']}/hold", headers=live.tenant.headers)).status_code == 200
        await eventually(lambda: moh == ["MusicOnHoldStart", "MusicOnHoldStop"], what="hold and unhold on the channel")
        assert (await live.http.post(f"/v1.0/calls/{call['id']}/moh", headers=live.tenant.headers)).status_code == 200
        assert (await live.http.delete(f"/v1.0/calls/{call['id']}/moh", headers=live.tenant.headers)).status_code == 200
        await eventually(lambda: moh == ["MusicOnHoldStart", "MusicOnHoldStop"] * 2, what="music on hold on and off")
        talk = await live.http.post(f"/v1.0/calls/{call['id']}/talk", json={"text": "One moment please."},
                                    headers=live.tenant.headers)
        assert talk.status_code == 200, talk.text
        rec = await live.http.post(f"/v1.0/calls/{call['id']}/recording_start", json={"format": "wav"},
                                   headers=live.tenant.headers)
        assert rec.status_code == 200, rec.text
        recording_id = rec.json()["recording_id"]
        assert rec.json()["recording_ids"] == [recording_id]
        again = await live.http.post(f"/v1.0/calls/{call['id']}/recording_start", json={},
                                     headers=live.tenant.headers)
        assert again.status_code == 409
        await asyncio.sleep(1.0)
        stop = await live.http.post(f"/v1.0/calls/{call['id']}/recording_stop", headers=live.tenant.headers)
        assert stop.status_code == 200
        recorded = asterisk.instance.directory / "spool" / "recording" / f"{recording_id}.wav"
        await eventually(recorded.exists, what="recording file")
        # another customer cannot touch it
        for path in ("hangup", "mute", "hold", "talk"):
            r = await live.http.post(f"/v1.0/calls/{call['id']}/{path}", json={"text": "x"} if path == "talk" else None,
                                     headers=live.other.headers)
            assert r.status_code == 404, (path, r.text)
        hung = await live.http.post(f"/v1.0/calls/{call['id']}/hangup", headers=live.tenant.headers)
        assert hung.status_code == 200 and hung.json()["status"] == "hangup"
        assert hung.json()["hangup_by"] == "local"
        with pytest.raises(AriNotFound):  # the channel is gone from Asterisk
            await ari.channels.get(call["id"])
        # an ended call: control is a conflict, hangup returns it unchanged
        assert (await live.http.post(f"/v1.0/calls/{call['id']}/hold", headers=live.tenant.headers)).status_code == 409
        assert (await live.http.post(f"/v1.0/calls/{call['id']}/hangup", headers=live.tenant.headers)).json() \
            == hung.json()
        types = live.types(call["id"])
        assert "call_terminating" in types and types[-1] == "call_hangup"
        kinds = [e.type for e in live.events if e.type.startswith("recording_")]
        assert kinds == ["recording_started", "recording_finished"]
    finally:
        for sub in subs:
            sub.close()
        await ari.aclose()


async def test_unanswered_destination_and_bad_requests(live: Live) -> None:
    call = await live.dial([{"type": "answer"}], target="busy")
    done = await live.wait_status(call["id"], "hangup")
    assert done["hangup_reason"] == "busy" and done["activeflow_id"] == "00000000-0000-0000-0000-000000000000"
    assert done["hangup_by"] == "remote"
    ringing = await live.dial([{"type": "answer"}], target="noanswer")  # rings past our dial timeout
    done = await live.wait_status(ringing["id"], "hangup")
    assert (done["hangup_reason"], done["hangup_by"]) == ("noanswer", "local")
    h = live.tenant.headers
    no_type = await live.http.post("/v1.0/calls", headers=h, json={
        "destinations": [{"type": "sip", "target": "x"}], "actions": [{"type": "answer"}]})
    assert no_type.status_code == 400 and no_type.json()["error"]["field"] == "destinations[0].type"
    bad_action = await live.http.post("/v1.0/calls", headers=h, json={
        "destinations": [{"type": "tel", "target": "wait"}], "actions": [{"type": "nope"}]})
    assert bad_action.status_code == 400 and bad_action.json()["error"]["field"].startswith("actions[0]")
    nothing = await live.http.post("/v1.0/calls", headers=h, json={"destinations": [{"type": "tel", "target": "w"}]})
    assert nothing.status_code == 400 and nothing.json()["error"]["field"] == "flow_id"
    foreign = await live.http.post("/v1.0/flows", headers=live.other.headers,
                                   json={"name": "theirs", "actions": [{"type": "answer"}]})
    stolen = await live.http.post("/v1.0/calls", headers=h, json={
        "destinations": [{"type": "tel", "target": "wait"}], "flow_id": foreign.json()["id"]})
    assert stolen.status_code == 404


async def test_stored_flow_and_inbound_calls_are_recorded(live: Live, asterisk: Asterisk) -> None:
    flow = (await live.http.post("/v1.0/flows", headers=live.tenant.headers, json={
        "name": "greet", "actions": [{"type": "answer"}, {"type": "hangup"}]})).json()
    r = await live.http.post("/v1.0/calls", headers=live.tenant.headers, json={
        "destinations": [{"type": "tel", "target": "wait"}], "flow_id": flow["id"],
        "variables": {"customer_name": "Jane"}})
    assert r.status_code == 200, r.text
    call = r.json()["calls"][0]
    assert call["flow_id"] == flow["id"]
    await live.wait_status(call["id"], "hangup")
    # an inbound call into this engine's app (the engine's own customer, its file flow) is recorded too
    engine = live.engine
    assert engine.ami is not None
    result = await engine.ami.originate("Local/wait@flowengine-test", application="Stasis", data="flowengine-apitest",
                                        codecs="ulaw", timeout_ms=10000)
    assert result.success

    async def inbound() -> list[Any]:
        assert engine.store is not None
        return list((await engine.store.calls.list_page(ENGINE_CUSTOMER_ID)).items)

    found: list[Any] = []
    for _ in range(200):
        found = await inbound()
        if found and found[0].status == "hangup":
            break
        await asyncio.sleep(0.1)
    assert found, "no inbound call recorded"
    assert found[0].direction == "incoming" and found[0].status == "hangup", [
        (e.type, e.data.get("status")) for e in live.events if e.data.get("id") == found[0].id]
    assert found[0].activeflow_id != "00000000-0000-0000-0000-000000000000"

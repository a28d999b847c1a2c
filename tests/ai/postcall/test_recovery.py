"""AI calls and summaries a previous engine left open are settled at start-up (SQLite and PostgreSQL): AI calls
terminated with their reason and event, summaries really written by the AI's model (a local OpenAI-compatible
server) or `done` with the error, the running engine's records untouched, and a stop meanwhile left safe."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIDirectory
from flowengine.ai.postcall.recovery import ENGINE_STOPPED, AIRecovery, terminate_stale_aicalls
from flowengine.ai.providers import ProviderPool
from flowengine.ai.voice.media import MediaSettings
from flowengine.asterisk.ari.client import AriClient
from flowengine.config import ApiConfig, AsteriskConfig, Config, SpeechConfig, StoreConfig
from flowengine.events import Event, EventBus
from flowengine.runtime import Engine, asterisk_config_for
from flowengine.store import (
    AI,
    NOT_YET,
    Activeflow,
    AIcall,
    AIMessage,
    Call,
    Customer,
    Flow,
    Store,
    Summary,
    generate_secret_key,
)
from flowengine.store.nodes import Owners
from flowengine.store.views import view
from tests.conftest import Asterisk
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.store import conftest as store_fixtures
from tests.support import eventually, stasis_call

postgres = store_fixtures.postgres
backend = store_fixtures.backend
empty_url = store_fixtures.empty_url


empty_store = store_fixtures.empty_store


@pytest.fixture
def store(empty_store: Store) -> Store:
    """A database of its own: start-up recovery looks at every customer's records."""
    return empty_store


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def seen(bus: EventBus) -> list[Event]:
    found: list[Event] = []
    bus.subscribe(found.append)
    return found


def service(store: Store, bus: EventBus, tmp_path: Path) -> AICallService:
    return AICallService(AIDirectory(tmp_path / "ais"), ProviderPool(), None, MediaSettings(), store, events=bus)


async def customer(store: Store, name: str) -> str:
    return (await store.customers.create(Customer(name=name))).id


async def ended_call_with_ai(store: Store, customer_id: str, *lines: tuple[str, str],
                             ai_gone: bool = False) -> tuple[Call, AIcall]:
    """A call whose flow set a variable and whose AI call talked, as a stopped engine left them."""
    flow_run = await store.activeflows.create(Activeflow(customer_id=customer_id, status="ended",
                                                         reference_type="call", variables={"office": "Bright Smile"}))
    call = await store.calls.create(Call(customer_id=customer_id, direction="incoming", status="hangup",
                                         activeflow_id=flow_run.id, channel_id="1700000000.1"))
    ai = await store.ais.create(AI(customer_id=customer_id, name="agent", engine_model="openai.gpt-test"),
                                engine_key="sk-recovery-key")
    aicall = await store.aicalls.create(AIcall(customer_id=customer_id, assistance_id=ai.id, reference_type="call",
                                               reference_id=call.id, activeflow_id=flow_run.id,
                                               status="terminated"))
    for role, text in lines:
        await store.aimessages.create(AIMessage(customer_id=customer_id, aicall_id=aicall.id, active_ai_id=ai.id,
                                                role=role, content=text,
                                                direction="incoming" if role == "assistant" else "outgoing"))
    if ai_gone:
        await store.ais.delete(customer_id, ai.id)
    return call, aicall


async def open_summary(store: Store, call: Call, language: str = "en-US") -> Summary:
    return await store.summaries.create(Summary(customer_id=call.customer_id, activeflow_id=call.activeflow_id,
                                                reference_id=call.id, language=language))


async def test_live_ai_calls_of_every_customer_are_terminated_with_the_reason(
        store: Store, bus: EventBus, seen: list[Event]) -> None:
    a, b = await customer(store, "A"), await customer(store, "B")
    stale = [await store.aicalls.create(AIcall(customer_id=owner, status=status, reference_type="call"))
             for owner, status in ((a, "initiating"), (a, "progressing"), (b, "pausing"), (b, "resuming"),
                                   (b, "terminating"))]
    over = await store.aicalls.create(AIcall(customer_id=a, status="terminated", ended_reason="customer-ended-call"))
    current = await store.aicalls.create(AIcall(customer_id=a, status="progressing"))  # the running engine's

    terminated = await terminate_stale_aicalls(store, bus, known={current.id})

    assert sorted(r.id for r in terminated) == sorted(r.id for r in stale)
    for before in stale:
        record = await store.aicalls.get(before.customer_id, before.id)
        assert (record.status, record.ended_reason) == ("terminated", ENGINE_STOPPED)
        assert record.tm_end != NOT_YET
        event = next(e for e in seen if e.data["id"] == before.id)
        assert event.type == "aicall_status_terminated" and event.customer_id == before.customer_id
        assert event.data == view(record) and event.extra == {"aicall_id": before.id}
    assert len(seen) == len(stale)
    assert await store.aicalls.get(a, over.id) == over
    assert await store.aicalls.get(a, current.id) == current
    assert await terminate_stale_aicalls(store, bus, known={current.id}) == []


async def test_a_lost_nodes_ai_calls_are_terminated_naming_it_and_a_live_nodes_left_alone(
        store: Store, bus: EventBus, seen: list[Event]) -> None:
    a = await customer(store, "A")
    calls: dict[str, AIcall] = {}
    for node in ("me", "live-node", "dead-node"):
        store.own(node)
        calls[node] = await store.aicalls.create(AIcall(customer_id=a, status="progressing", metadata={"k": 1}))
    lost = await terminate_stale_aicalls(store, bus, owners=Owners.lost("me", live={"live-node"}))
    assert [r.id for r in lost] == [calls["dead-node"].id]
    record = await store.aicalls.get(a, calls["dead-node"].id)
    # Vapi's reason (its enum has no word for a lost node), the node named beside it
    assert (record.ended_reason, record.metadata) == (ENGINE_STOPPED, {"k": 1, "ended_detail": "node-lost:dead-node"})
    assert [e.data["id"] for e in seen] == [record.id]
    assert (await store.aicalls.get(a, calls["live-node"].id)).status == "progressing"
    mine = await terminate_stale_aicalls(store, bus, owners=Owners.previous_run("me"))
    assert [r.id for r in mine] == [calls["me"].id] and mine[0].metadata == {"k": 1}
    assert (await store.aicalls.get(a, calls["live-node"].id)).status == "progressing"


async def test_progressing_summaries_are_written_from_the_stored_transcripts(
        store: Store, bus: EventBus, seen: list[Event], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = await customer(store, "A"), await customer(store, "B")
    talked, _ = await ended_call_with_ai(store, a, ("system", "You book appointments."), ("assistant", "Which day?"),
                                         ("user", "Friday please."), ("assistant", "Friday is booked."))
    silent = await store.calls.create(Call(customer_id=b, direction="incoming", status="hangup"))
    orphaned, _ = await ended_call_with_ai(store, b, ("user", "Hello?"), ai_gone=True)
    written = await open_summary(store, talked)
    no_transcript = await open_summary(store, silent, language="")
    no_ai = await open_summary(store, orphaned)
    finished = await store.summaries.update(a, (await open_summary(store, talked, "de")).id, status="done",
                                            content="Schon fertig.")
    async with FakeOpenAIServer() as server:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", server.base_url)
        server.script(Reply(text="The caller booked Friday."))
        recovery = AIRecovery(store, bus, service(store, bus, tmp_path), start_flow=None)
        assert await recovery.start() == []
        done = await recovery.written()
        await recovery.aclose()
    assert sorted(s.id for s in done) == sorted([written.id, no_transcript.id, no_ai.id])
    got = await store.summaries.get(a, written.id)
    assert (got.status, got.content, got.error) == ("done", "The caller booked Friday.", "")
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request.headers.get("Authorization") == "Bearer sk-recovery-key"
    prompt = request.body["messages"][-1]["content"]
    assert "AI: Which day?\nUser: Friday please.\nAI: Friday is booked." in prompt
    assert "Bright Smile" in prompt  # the activeflow's stored variables
    empty = await store.summaries.get(b, no_transcript.id)
    assert (empty.status, empty.content) == ("done", "") and "had no AI call" in empty.error
    gone = await store.summaries.get(b, no_ai.id)
    assert (gone.status, gone.content) == ("done", "") and "is gone" in gone.error
    updates = {e.data["id"]: e for e in seen if e.type == "summary_updated"}
    assert set(updates) == {written.id, no_transcript.id, no_ai.id}
    assert updates[written.id].data == view(got) and updates[no_ai.id].customer_id == b
    assert await store.summaries.get(a, finished.id) == finished


async def test_a_stop_while_writing_leaves_the_summary_for_the_next_start(
        store: Store, bus: EventBus, seen: list[Event], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = await customer(store, "A")
    call, _ = await ended_call_with_ai(store, a, ("user", "Cancel my booking."), ("assistant", "Done."))
    summary = await open_summary(store, call)
    async with FakeOpenAIServer() as server:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", server.base_url)
        server.script(Reply(text="too late", delay_s=60), Reply(text="The booking was cancelled."))
        first = AIRecovery(store, bus, service(store, bus, tmp_path), start_flow=None)
        await first.start()
        await eventually(lambda: len(server.requests) == 1, what="the model asked")
        await first.aclose()  # the engine stops while the model is answering
        left = await store.summaries.get(a, summary.id)
        assert left == summary and not [e for e in seen if e.type == "summary_updated"]
        second = AIRecovery(store, bus, service(store, bus, tmp_path), start_flow=None)
        await second.start()
        [done] = await second.written()
        await second.aclose()
    assert (done.id, done.status, done.content) == (summary.id, "done", "The booking was cancelled.")
    assert [e.data["id"] for e in seen if e.type == "summary_updated"] == [summary.id]


async def test_the_engine_settles_a_previous_runs_records_when_it_starts(
        asterisk: Asterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, key = f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", generate_secret_key()
    hooks: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        hooks.append(await request.json())
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    site_runner = web.AppRunner(receiver)
    await site_runner.setup()
    site = web.TCPSite(site_runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with await Store.open(url, secret_keys=[key]) as before:  # what the stopped engine left
        tenant = (await before.customers.create(Customer(
            name="A", webhook_uri=f"http://127.0.0.1:{port}/hook", webhook_method="POST"))).id
        call, aicall = await ended_call_with_ai(before, tenant, ("assistant", "How can I help?"),
                                                ("user", "My tooth hurts."))
        call = await before.calls.update(tenant, call.id, status="progressing")
        aicall = await before.aicalls.update(tenant, aicall.id, status="progressing")
        on_end = await before.flows.create(Flow(customer_id=tenant, name="after summary", actions=[
            {"type": "variable_set", "option": {"key": "got", "value": "${voipbin.ai_summary.content}"}}]))
        summary = await before.summaries.create(Summary(
            customer_id=tenant, activeflow_id=call.activeflow_id, on_end_flow_id=on_end.id, reference_id=call.id))
    (tmp_path / "flows").mkdir()
    config = Config(
        asterisk=asterisk_config_for(asterisk.info, AsteriskConfig.model_construct()).model_copy(
            update={"app": "flowengine-recoverytest"}),
        store=StoreConfig(url=url, secret_key=SecretStr(key)),
        speech=SpeechConfig(tts="espeak", cache_dir=str(tmp_path / "speech"), warm_up=False),
        flows_dir=str(tmp_path / "flows"), api=ApiConfig(enabled=True, port=0))
    dead = AriClient(asterisk.info.ari_url, asterisk.info.ari_username, asterisk.info.ari_password,
                     config.asterisk.app)
    await dead.start()  # the previous run's caller is still in Stasis, in its bridge, on this Asterisk
    try:
        caller = await stasis_call(dead)
        bridge = await dead.bridges.create("mixing")
        await bridge.add(caller)
    finally:
        await dead.aclose()
    engine = Engine(config)
    seen: list[Event] = []
    engine.events.subscribe(seen.append)
    async with FakeOpenAIServer() as server:
        monkeypatch.setenv("FLOWENGINE_LLM_OPENAI_BASE_URL", server.base_url)
        server.script(Reply(text="A caller with toothache."))
        await engine.start()
        try:
            store, recovery = engine.store, engine.ai_recovery
            assert store is not None and recovery is not None
            assert engine.leftovers.bridge_ids == (bridge.id,) and caller in engine.leftovers.channel_ids
            assert engine.ari is not None and caller not in {c.id for c in await engine.ari.channels.list()}
            # settled before the engine took calls
            hung_up = await store.calls.get(tenant, call.id)
            assert (hung_up.status, hung_up.hangup_reason, hung_up.hangup_by) == ("hangup", "failed", "local")
            ended = await store.aicalls.get(tenant, aicall.id)
            assert (ended.status, ended.ended_reason) == ("terminated", ENGINE_STOPPED)
            [done] = await recovery.written()
            ran: list[Activeflow] = []
            for _ in range(100):  # at most 10 s for the on_end flow
                page = await store.activeflows.list_page(tenant, filters={"flow_id": on_end.id, "status": "ended"})
                ran = page.items
                if ran:
                    break
                await asyncio.sleep(0.1)
            # the start-up hangups reach the customer's webhook too (the dispatcher listened before them)
            await eventually(lambda: {"call_hangup", "aicall_status_terminated"} <= {h["type"] for h in hooks},
                             what="the start-up events at the webhook")
        finally:
            await engine.aclose()
            await site_runner.cleanup()
    assert (done.id, done.status, done.content, done.error) == (summary.id, "done", "A caller with toothache.", "")
    sent = {h["type"]: h["data"]["id"] for h in hooks if h["type"] in ("call_hangup", "aicall_status_terminated")}
    assert sent == {"call_hangup": call.id, "aicall_status_terminated": aicall.id}
    assert "User: My tooth hurts." in server.requests[-1].body["messages"][-1]["content"]
    assert len(ran) == 1 and (ran[0].reference_type, ran[0].reference_id) == ("ai", summary.id)
    assert ran[0].reference_activeflow_id == call.activeflow_id
    assert ran[0].variables["got"] == "A caller with toothache."
    kinds = [(e.type, e.data["id"]) for e in seen if e.type in ("call_hangup", "aicall_status_terminated",
                                                                 "summary_updated")]
    assert kinds == [("call_hangup", call.id), ("aicall_status_terminated", aicall.id),
                     ("summary_updated", summary.id)]

"""Calls dialled by flows on the real Asterisk are call records from the dial on: the `call` action's calls
(through FlowService.dial_flow) and the `connect` action's legs, one record each, chained to their master."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flowengine.asterisk.app import AriApp
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.routing import RouteTable
from flowengine.events import Event, EventBus
from flowengine.flow.activeflow import Activeflow
from flowengine.flow.callregistry import CallRegistry
from flowengine.flow.context import Services, ServicesLink
from flowengine.flow.service import FlowService
from flowengine.store import NIL_ID, NOT_YET, Customer, Store, generate_secret_key
from flowengine.store import Call as CallRecord
from flowengine.tenancy import ENGINE_CUSTOMER_ID
from tests.campaign.harness import CONTEXT as CALLEES
from tests.conftest import Asterisk
from tests.flow.calls import place_call
from tests.support import Flows, eventually

SLOW_CALLEES = "flowengine-test-callee"  # `flowcall`: answers, hangs up by itself after 8 s


@dataclass
class Recorded:
    """An engine with a store and call registry taking inbound calls (for the engine's own customer)."""

    store: Store
    events: list[Event]
    flows: Flows
    activeflows: dict[str, Activeflow] = field(default_factory=dict)  # the last state of each, by id

    async def observe(self, af: Activeflow, event: str) -> None:
        self.activeflows[af.id] = af

    async def records(self) -> list[CallRecord]:
        return (await self.store.calls.list_page(ENGINE_CUSTOMER_ID, page_size=100)).items

    async def until(self, predicate: Callable[[list[CallRecord]], bool], what: str,
                    timeout: float = 30) -> list[CallRecord]:
        """The call records once `predicate` holds for them (polled)."""
        records: list[CallRecord] = []
        for _ in range(int(timeout / 0.1)):
            records = await self.records()
            if predicate(records):
                return records
            await asyncio.sleep(0.1)
        raise AssertionError(f"{what} not reached; records: {[(r.id, r.direction, r.status) for r in records]}")

    async def master(self) -> CallRecord:
        records = await self.until(lambda rs: any(r.direction == "incoming" for r in rs), "inbound call recorded")
        [master] = [r for r in records if r.direction == "incoming"]
        return master

    def call_events(self, call_id: str) -> list[Event]:
        return [e for e in self.events if e.type.startswith("call_") and e.data.get("id") == call_id]

    def statuses(self, call_id: str) -> list[str]:
        out: list[str] = []
        for event in self.call_events(call_id):
            if not out or out[-1] != event.data["status"]:
                out.append(event.data["status"])
        return out


@asynccontextmanager
async def recorded(asterisk: Asterisk, ari: AriClient, tmp_path: Path, *,
                   dial_timeout_s: int = 30) -> AsyncIterator[Recorded]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}", secret_keys=[generate_secret_key()])
    await store.customers.ensure(Customer(id=ENGINE_CUSTOMER_ID, name="engine"))
    bus = EventBus()
    events: list[Event] = []
    unsubscribe = bus.subscribe(events.append)
    flows = Flows()
    link = ServicesLink()
    service = FlowService(link)
    registry = CallRegistry(store, bus, service)
    h = Recorded(store, events, flows)
    link.bind(Services(ari=ari, flows=flows, events=bus, dial_timeout_s=dial_timeout_s,
                       endpoints={"extension": f"Local/{{target}}@{CALLEES}", "tel": f"Local/{{target}}@{SLOW_CALLEES}"},
                       calls=registry, observers=(registry.observe, h.observe), start_flow=service.start_flow,
                       dial_flow=service.dial_flow))
    app = AriApp(ari, RouteTable(default_flow="main"), service.handle_call)
    try:
        yield h
    finally:
        await app.aclose()
        await service.aclose()
        await registry.aclose()
        unsubscribe()
        await store.aclose()
    await eventually(lambda: not [c for c in asterisk.channels() if CALLEES in c or SLOW_CALLEES in c],
                     timeout=15, what="dialled channels gone")


def outgoing(records: list[CallRecord]) -> list[CallRecord]:
    return [r for r in records if r.direction == "outgoing"]


def all_hung_up(count: int) -> Callable[[list[CallRecord]], bool]:
    return lambda rs: len(rs) == count and all(r.status == "hangup" for r in rs)


async def test_call_action_answered_is_one_record_from_the_dial_chained_to_its_master(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with recorded(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"type": "call", "option": {
                "source": {"type": "tel", "target": "5550100"}, "chained": True,
                "destinations": [{"type": "extension", "target": "talk41"}],
                "actions": [{"type": "sleep", "option": {"duration": 1000}}]}},
            {"type": "sleep", "option": {"duration": 4000}},
        ]})
        await place_call(ari)
        master = await h.master()
        records = await h.until(all_hung_up(2), "both calls hung up")
        [dialled] = outgoing(records)
        [master] = [r for r in records if r.id == master.id]
        assert (dialled.status, dialled.hangup_by, dialled.hangup_reason) == ("hangup", "local", "normal")
        assert dialled.channel_id == dialled.id and dialled.flow_id == NIL_ID
        assert (dialled.source.type, dialled.source.target) == ("tel", "5550100")
        assert (dialled.destination.type, dialled.destination.target) == ("extension", "talk41")
        assert dialled.tm_progressing != NOT_YET and dialled.tm_hangup >= dialled.tm_progressing
        # its activeflow is attached to this record: the flow's call is this call
        af = h.activeflows[dialled.activeflow_id]
        assert af.reference_id == dialled.id and af.variables["voipbin.call.id"] == dialled.id
        assert af.variables["voipbin.call.master_call_id"] == master.id
        # chained: the new call names its master, the master lists it
        assert dialled.master_call_id == master.id and master.chained_call_ids == [dialled.id]
        assert master.master_call_id == NIL_ID
        assert any(e.type == "call_updated" and e.data["chained_call_ids"] == [dialled.id]
                   for e in h.call_events(master.id))
        kinds = [e.type for e in h.call_events(dialled.id)]
        assert kinds[0] == "call_created" and kinds.count("call_created") == 1 and kinds[-1] == "call_hangup"
        assert h.call_events(dialled.id)[0].data["master_call_id"] == master.id
        assert h.statuses(dialled.id) in (["dialing", "progressing", "hangup"],
                                          ["dialing", "ringing", "progressing", "hangup"])


async def test_call_action_unanswered_is_recorded_with_its_reason(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with recorded(asterisk, ari, tmp_path, dial_timeout_s=2) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"type": "call", "option": {  # not chained: independent calls without a master
                "destinations": [{"type": "extension", "target": "busy42"}, {"type": "extension", "target": "quiet42"}],
                "actions": [{"type": "sleep", "option": {"duration": 1000}}]}},
            {"type": "sleep", "option": {"duration": 5000}},
        ]})
        await place_call(ari)
        master = await h.master()
        records = await h.until(lambda rs: len(outgoing(rs)) == 2 and all(r.status == "hangup" for r in outgoing(rs)),
                                "both dialled calls hung up")
        by_target = {r.destination.target: r for r in outgoing(records)}
        busy, quiet = by_target["busy42"], by_target["quiet42"]
        assert (busy.hangup_reason, busy.hangup_by) == ("busy", "remote")
        assert (quiet.hangup_reason, quiet.hangup_by) == ("noanswer", "local")  # our dial timeout
        for record in (busy, quiet):
            assert record.tm_progressing == NOT_YET and record.activeflow_id == NIL_ID
            assert record.master_call_id == NIL_ID
            assert h.statuses(record.id)[0] == "dialing" and h.statuses(record.id)[-1] == "hangup"
            assert [e.type for e in h.call_events(record.id)].count("call_created") == 1
        assert {af.reference_id for af in h.activeflows.values()} == {master.id}  # no flow ran on them
        assert (await h.store.calls.get(ENGINE_CUSTOMER_ID, master.id)).chained_call_ids == []


async def test_connect_records_each_leg_the_loser_cancelled_by_us(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with recorded(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "dial", "type": "connect", "option": {
                "source": {"type": "tel", "target": "5550100"},
                "destinations": [{"type": "tel", "target": "flowcall"}, {"type": "extension", "target": "quiet43"}]}},
            {"type": "variable_set", "option": {"key": "went", "value": "on"}},
        ]})
        await place_call(ari)
        master = await h.master()
        records = await h.until(all_hung_up(3), "the caller and both legs hung up")
        by_target = {r.destination.target: r for r in outgoing(records)}
        winner, loser = by_target["flowcall"], by_target["quiet43"]
        [master] = [r for r in records if r.id == master.id]
        assert master.chained_call_ids == [winner.id, loser.id]
        assert winner.master_call_id == loser.master_call_id == master.id
        # the winner was answered and bridged, and hung up by itself
        assert (winner.hangup_by, winner.hangup_reason) == ("remote", "normal")
        assert winner.tm_progressing != NOT_YET and winner.activeflow_id == NIL_ID
        assert h.statuses(winner.id) in (["dialing", "progressing", "hangup"],
                                         ["dialing", "ringing", "progressing", "hangup"])
        # the loser was ringing when the winner answered: we hung it up
        assert (loser.hangup_by, loser.hangup_reason) == ("local", "cancel")
        assert loser.tm_progressing == NOT_YET
        assert h.statuses(loser.id)[0] == "dialing" and "progressing" not in h.statuses(loser.id)
        for leg in (winner, loser):
            assert (leg.source.type, leg.source.target) == ("tel", "5550100")
            kinds = [e.type for e in h.call_events(leg.id)]
            assert kinds[0] == "call_created" and kinds.count("call_created") == 1 and kinds[-1] == "call_hangup"
        # the flow went on after the connect: only the caller's activeflow ran (the legs have none)
        [af] = h.activeflows.values()
        assert af.reference_id == master.id and af.variables["went"] == "on"


async def test_connect_where_nobody_answers(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with recorded(asterisk, ari, tmp_path, dial_timeout_s=2) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "dial", "type": "connect", "option": {
                "destinations": [{"type": "extension", "target": "busy44"},
                                 {"type": "extension", "target": "quiet44"}]}},
            {"type": "variable_set", "option": {"key": "went", "value": "on"}},
        ]})
        await place_call(ari)
        master = await h.master()
        records = await h.until(all_hung_up(3), "the caller and both legs hung up")
        by_target = {r.destination.target: r for r in outgoing(records)}
        busy, quiet = by_target["busy44"], by_target["quiet44"]
        assert (busy.hangup_by, busy.hangup_reason) == ("remote", "busy")
        assert (quiet.hangup_by, quiet.hangup_reason) == ("local", "noanswer")  # our dial timeout
        for leg in (busy, quiet):
            assert leg.master_call_id == master.id and leg.tm_progressing == NOT_YET
        stored = await h.store.calls.get(ENGINE_CUSTOMER_ID, master.id)
        assert stored.chained_call_ids == [busy.id, quiet.id]
        [af] = h.activeflows.values()
        assert af.variables["went"] == "on"  # the connect failed and the flow moved on


async def test_connect_legs_ringing_when_the_caller_hangs_up_are_cancelled_by_us(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path
) -> None:
    async with recorded(asterisk, ari, tmp_path) as h:
        h.flows.add({"id": "main", "actions": [
            {"type": "answer"},
            {"id": "dial", "type": "connect", "option": {
                "destinations": [{"type": "extension", "target": "quiet45"},
                                 {"type": "extension", "target": "quiet46"}]}},
        ]})
        caller = await place_call(ari)
        master = await h.master()
        await h.until(lambda rs: len(outgoing(rs)) == 2, "both legs dialled")
        await caller.hangup()
        records = await h.until(all_hung_up(3), "the caller and both legs hung up")
        legs = outgoing(records)
        assert {(r.hangup_by, r.hangup_reason) for r in legs} == {("local", "cancel")}
        assert all(r.master_call_id == master.id and r.tm_progressing == NOT_YET for r in legs)
        stored = await h.store.calls.get(ENGINE_CUSTOMER_ID, master.id)
        assert stored.chained_call_ids == [r.id for r in sorted(legs, key=lambda r: r.destination.target)]

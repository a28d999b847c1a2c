"""Campaign calls on the real Asterisk are call records from the dial on: one record per dialed leg, the
campaigncall referencing it only once it exists, and its end (answered or not) recorded and published."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flowengine.asterisk.ari.client import AriClient
from flowengine.events import Event
from flowengine.flow.activeflow import Activeflow
from flowengine.store import NIL_ID, NOT_YET
from flowengine.store import Call as CallRecord
from flowengine.store.errors import NotFoundError
from flowengine.store.timestamps import parse_timestamp
from tests.campaign.harness import CUSTOMER, CampaignHarness, campaign_harness
from tests.conftest import Asterisk
from tests.support import eventually


@dataclass
class FirstReference:
    """The first campaigncall_updated naming a call, per campaigncall, and a store read of that call
    started from inside the event's delivery (before any other task of the engine runs)."""

    event: Event
    read: asyncio.Task[CallRecord | None]


@dataclass
class Watch:
    events: list[Event] = field(default_factory=list)
    references: dict[str, FirstReference] = field(default_factory=dict)

    def call_events(self, call_id: str) -> list[Event]:
        return [e for e in self.events if e.type.startswith("call_") and e.data.get("id") == call_id]


async def _read(h: CampaignHarness, call_id: str) -> CallRecord | None:
    try:
        return await h.store.calls.get(CUSTOMER, call_id)
    except NotFoundError:
        return None


@contextmanager
def watching(h: CampaignHarness) -> Iterator[Watch]:
    watch = Watch()

    def on_event(event: Event) -> None:
        watch.events.append(event)
        data = event.data
        if event.type != "campaigncall_updated" or data["reference_id"] in (NIL_ID, ""):
            return
        if data["id"] not in watch.references:
            assert data["reference_type"] == "call", data
            read = asyncio.ensure_future(_read(h, data["reference_id"]))
            watch.references[data["id"]] = FirstReference(event, read)

    unsubscribe = h.events.subscribe(on_event)
    try:
        yield watch
    finally:
        unsubscribe()


async def assert_recorded_before_referenced(watch: Watch, campaigncall_id: str) -> CallRecord:
    """The campaigncall named its call only once the call's record was stored."""
    first = watch.references[campaigncall_id]
    found = await first.read
    assert found is not None, f"call {first.event.data['reference_id']} not in the store when first referenced"
    assert found.tm_create <= parse_timestamp(first.event.data["tm_update"])
    return found


def statuses(events: list[Event]) -> list[str]:
    out: list[str] = []
    for event in events:
        if not out or out[-1] != event.data["status"]:
            out.append(event.data["status"])
    return out


async def test_answered_call_is_one_record_from_the_dial(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    flows_seen: dict[str, tuple[str, str]] = {}  # activeflow id -> (reference_id, voipbin.call.id)

    async def observe(af: Activeflow, event: str) -> None:
        flows_seen[af.id] = (af.reference_id, str(af.variables.get("voipbin.call.id")))

    async with campaign_harness(asterisk, ari, tmp_path / "c.db", observers=(observe,)) as h:
        campaign = await h.make(["talk21"], calls_per_second=20, actions=[{"type": "sleep", "option": {"duration": 300}}])
        with watching(h) as watch:
            await h.run_to_end(campaign)
            [done] = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
            await assert_recorded_before_referenced(watch, done.id)
            call_id = done.reference_id
            await eventually(lambda: [e.type for e in watch.call_events(call_id)][-1:] == ["call_hangup"],
                             what="call_hangup published")
        assert (done.status, done.result, done.hangup_reason, done.reference_type) == (
            "done", "success", "normal", "call")
        records = (await h.store.calls.list_page(CUSTOMER, page_size=100)).items
        assert [r.id for r in records] == [call_id]  # the activeflow attached to it: no second record
        record = records[0]
        assert (record.status, record.hangup_reason, record.hangup_by, record.direction) == (
            "hangup", "normal", "local", "outgoing")
        assert record.channel_id == call_id and record.activeflow_id == done.activeflow_id
        assert (record.source.type, record.source.target) == ("tel", "5550100")
        assert (record.destination.type, record.destination.target) == ("extension", "talk21")
        assert record.tm_progressing != NOT_YET and record.tm_hangup >= record.tm_progressing
        kinds = [e.type for e in watch.call_events(call_id)]
        assert kinds.count("call_created") == 1 and kinds[0] == "call_created"
        assert statuses(watch.call_events(call_id)) in (["dialing", "progressing", "hangup"],
                                                        ["dialing", "ringing", "progressing", "hangup"])
        assert flows_seen[done.activeflow_id] == (call_id, call_id)
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")


async def test_unanswered_calls_are_recorded_with_their_reason(asterisk: Asterisk, ari: AriClient,
                                                               tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        campaign = await h.make(["busy21", "quiet21", "drop21"], dial_timeout=2000, max_concurrent_calls=3,
                                calls_per_second=20)
        with watching(h) as watch:
            await h.run_to_end(campaign)
            calls = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
            for call in calls:
                await assert_recorded_before_referenced(watch, call.id)
            ids = [c.reference_id for c in calls]
            await eventually(lambda: all([e.type for e in watch.call_events(i)][-1:] == ["call_hangup"] for i in ids),
                             what="call_hangup published for every call")
        names = {t.id: name for name, t in (await h.targets(campaign)).items()}
        seen: dict[str, tuple[str, ...]] = {}
        for call in calls:
            assert call.reference_type == "call" and call.activeflow_id == NIL_ID
            record = await h.store.calls.get(CUSTOMER, call.reference_id)
            assert record.hangup_reason == call.hangup_reason  # the call and its campaigncall agree
            assert record.tm_progressing == NOT_YET and record.activeflow_id == NIL_ID
            assert (record.destination.target, record.channel_id) == (names[call.outdial_target_id], record.id)
            kinds = [e.type for e in watch.call_events(record.id)]
            assert kinds[0] == "call_created" and kinds.count("call_created") == 1
            assert statuses(watch.call_events(record.id))[0] == "dialing"
            seen[names[call.outdial_target_id]] = (call.result, record.status, record.hangup_reason,
                                                   record.hangup_by)
        assert seen == {"busy21": ("fail", "hangup", "busy", "remote"),
                        "quiet21": ("fail", "hangup", "noanswer", "local"),  # our dial timeout
                        "drop21": ("fail", "hangup", "failed", "remote")}
        assert len((await h.store.calls.list_page(CUSTOMER, page_size=100)).items) == 3
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")

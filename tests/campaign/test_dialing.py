"""Campaigns on the real Asterisk: results and retries per target behaviour, caps, stop, restart."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowengine.asterisk.ari.client import AriClient
from flowengine.store.outdials import OutdialTarget
from flowengine.store.records import Address
from tests.campaign.harness import CUSTOMER, campaign_harness
from tests.conftest import Asterisk
from tests.support import eventually, hangups_answered_late


async def test_results_and_retries_follow_each_target(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        campaign = await h.make(["talk1", "busy1", "quiet1", "drop1"], max_try_count_0=2, try_interval=200,
                                dial_timeout=2000, max_concurrent_calls=4, calls_per_second=20)
        async with h.events.stream() as stream:
            done = await h.run_to_end(campaign)
            seen = set()
            while not stream.queue.empty():
                seen.add(stream.queue.get_nowait().type)
        assert done.status == "stop" and done.execute == "stop"
        calls = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
        by_target: dict[str, list[tuple[str, str, int]]] = {}
        targets = await h.targets(campaign)
        names = {t.id: name for name, t in targets.items()}
        for call in calls:
            by_target.setdefault(names[call.outdial_target_id], []).append(
                (call.result, call.hangup_reason, call.try_count))
        assert by_target["talk1"] == [("success", "normal", 1)]
        assert by_target["busy1"] == [("fail", "busy", 1), ("fail", "busy", 2)]
        assert by_target["quiet1"] == [("fail", "noanswer", 1), ("fail", "noanswer", 2)]
        assert by_target["drop1"] == [("fail", "failed", 1), ("fail", "failed", 2)]
        assert {n: (t.status, t.try_count_0) for n, t in targets.items()} == {
            "talk1": ("done", 1), "busy1": ("done", 2), "quiet1": ("done", 2), "drop1": ("done", 2)}
        assert h.channels.dialed("talk1") == 1 and h.channels.dialed("busy1") == 2
        assert {"campaign_status_run", "campaign_status_stop", "campaigncall_created", "campaigncall_updated",
                "outdialtarget_updated"} <= seen
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")


async def test_pace_and_concurrency_caps_hold(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        campaign = await h.make([f"talk{i}" for i in range(5)], max_concurrent_calls=2, calls_per_second=4,
                                actions=[{"type": "sleep", "option": {"duration": 1200}}])
        await h.run_to_end(campaign)
        assert len(h.channels.started) == 5
        assert h.channels.max_concurrent() == 2
        assert h.channels.min_spacing() >= 0.25 * 0.9  # 4 calls per second: originations 250 ms apart or more


async def test_global_cap_is_shared_by_campaigns(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db", max_calls=2) as h:
        flow = [{"type": "sleep", "option": {"duration": 1000}}]
        first = await h.make(["talk1", "talk2", "talk3"], max_concurrent_calls=3, calls_per_second=20, actions=flow)
        second = await h.make(["talk4", "talk5", "talk6"], max_concurrent_calls=3, calls_per_second=20, actions=flow)
        await h.service.set_status(CUSTOMER, first.id, "run")
        await h.run_to_end(second)
        await h.service.wait_stopped(first.id)
        assert len(h.channels.started) == 6
        assert h.channels.max_concurrent() == 2


async def test_machine_answers_hang_up_or_get_a_message(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        hang = await h.make(["robot1"], max_try_count_0=2, try_interval=100, calls_per_second=20,
                            actions=[{"type": "amd", "option": {"machine_handle": "hangup"}},
                                     {"type": "sleep", "option": {"duration": 200}}])
        message = await h.make(["robot2"], calls_per_second=20,
                               actions=[{"type": "amd", "option": {"machine_handle": "continue"}},
                                        {"type": "play", "option": {"stream_urls": ["sound:vm-goodbye"]}}])
        await h.service.set_status(CUSTOMER, message.id, "run")
        await h.run_to_end(hang)
        await h.service.wait_stopped(message.id)
        hung = await h.store.campaigncalls.of_campaign(CUSTOMER, hang.id)
        assert [(c.result, c.hangup_reason, c.amd_status, c.try_count) for c in hung] == [
            ("fail", "amd", "MACHINE", 1), ("fail", "amd", "MACHINE", 2)]
        left = await h.store.campaigncalls.of_campaign(CUSTOMER, message.id)
        assert [(c.result, c.hangup_reason, c.amd_status) for c in left] == [("success", "normal", "MACHINE")]
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")


async def test_a_machine_hung_up_counts_as_amd_when_the_hangup_event_comes_first(
    asterisk: Asterisk, ari: AriClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Asterisk's hangup event can reach the engine before the answer to the DELETE that caused it (a full run saw
    # the amd action's hangup counted as a normal end): the answer comes late here, after the event
    hangups_answered_late(monkeypatch)
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        hang = await h.make(["robot1"], calls_per_second=20,
                            actions=[{"type": "amd", "option": {"machine_handle": "hangup"}},
                                     {"type": "sleep", "option": {"duration": 200}}])
        await h.run_to_end(hang)
        hung = await h.store.campaigncalls.of_campaign(CUSTOMER, hang.id)
        assert [(c.result, c.hangup_reason, c.amd_status) for c in hung] == [("fail", "amd", "MACHINE")]
        await eventually(lambda: asterisk.channels() == [], what="all channels gone")


async def test_stop_drains_calls_and_dials_no_more(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    ended: list[str] = []

    async def observe(af: object, event: str) -> None:
        reason = getattr(af, "ended_reason", "")
        if reason:
            ended.append(reason)

    async with campaign_harness(asterisk, ari, tmp_path / "c.db", observers=(observe,)) as h:
        campaign = await h.make([f"talk{i}" for i in range(5)], max_concurrent_calls=2, calls_per_second=20,
                                actions=[{"type": "sleep", "option": {"duration": 2500}}])
        await h.service.set_status(CUSTOMER, campaign.id, "run")

        async def progressing() -> int:
            calls = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
            return sum(c.status == "progressing" for c in calls)

        for _ in range(200):
            if await progressing() == 2:
                break
            await asyncio.sleep(0.05)
        stopping = await h.service.set_status(CUSTOMER, campaign.id, "stop")
        assert stopping.status == "stopping"
        assert len(asterisk.channels()) >= 2  # the calls stay up while stopping
        await asyncio.wait_for(h.service.wait_stopped(campaign.id), 30)
        done = await h.store.campaigns.get(CUSTOMER, campaign.id)
        assert (done.status, done.execute) == ("stop", "stop")
        calls = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
        assert [(c.status, c.result, c.hangup_reason) for c in calls] == [("done", "success", "normal")] * 2
        assert ended.count("finished") == 2  # both flows ran to their end: nothing was cut
        targets = await h.targets(campaign)
        assert sorted(t.status for t in targets.values()) == ["done", "done", "idle", "idle", "idle"]
        assert len(h.channels.started) == 2


async def test_restart_resumes_without_double_dialing(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    names = ["talk1", "talk2", "quiet1", "talk3", "talk4"]
    async with campaign_harness(asterisk, ari, db) as h:
        campaign = await h.make(names, max_concurrent_calls=3, calls_per_second=20, dial_timeout=3000,
                                actions=[{"type": "sleep", "option": {"duration": 5000}}])
        await h.service.set_status(CUSTOMER, campaign.id, "run")
        for _ in range(200):
            calls = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
            up = sorted(c.status for c in calls) == ["dialing", "progressing", "progressing"]
            if up and h.channels.dialed("quiet1") == 1:  # the dial has reached Asterisk
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"calls never came up: {[c.status for c in calls]}")
        first = dict(h.channels.started)
    # the engine went away abruptly (service cancelled, nothing settled); a new one opens the same store
    async with campaign_harness(asterisk, ari, db) as h:
        await asyncio.wait_for(h.service.wait_stopped(campaign.id), 60)
        second = dict(h.channels.started)
        targets = await h.targets(campaign)
        calls = await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)
    dialed = [name.split("@")[0].removeprefix("Local/") for name in [*first, *second]]
    assert sorted(dialed) == sorted(["talk1", "talk2", "quiet1", "quiet1", "talk3", "talk4"])
    names_by_id = {t.id: n for n, t in targets.items()}
    outcome = sorted((names_by_id[c.outdial_target_id], c.result, c.hangup_reason) for c in calls)
    assert outcome == [("quiet1", "fail", "interrupted"), ("quiet1", "fail", "noanswer"),
                       ("talk1", "success", "interrupted"), ("talk2", "success", "interrupted"),
                       ("talk3", "success", "normal"), ("talk4", "success", "normal")]
    assert targets["quiet1"].try_count_0 == 1 and targets["quiet1"].status == "done"
    assert all(t.status == "done" for t in targets.values())


async def test_flow_campaign_chains_to_the_next(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        second = await h.make(["talk8"], calls_per_second=20)
        first = await h.make(["talk9", "talk10"], type="flow", calls_per_second=20,
                             actions=[{"type": "variable_set", "option": {"key": "k", "value": "v"}}])
        await h.service.resources.update_campaign(CUSTOMER, first.id, next_campaign_id=second.id)
        await h.run_to_end(first)
        await eventually(lambda: second.id in h.service.tasks, what="next campaign started")
        await asyncio.wait_for(h.service.wait_stopped(second.id), 30)
        flow_calls = await h.store.campaigncalls.of_campaign(CUSTOMER, first.id)
        assert [(c.reference_type, c.result) for c in flow_calls] == [("flow", "success")] * 2
        assert all(c.reference_id == c.id and c.activeflow_id != c.id for c in flow_calls)
        assert h.channels.dialed("talk9") == 0  # type flow: nobody is called
        chained = await h.store.campaigncalls.of_campaign(CUSTOMER, second.id)
        assert [(c.reference_type, c.result, c.hangup_reason) for c in chained] == [("call", "success", "normal")]


async def test_end_handle_continue_waits_for_new_targets(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    async with campaign_harness(asterisk, ari, tmp_path / "c.db") as h:
        campaign = await h.make(["talk11"], end_handle="continue", calls_per_second=20)
        await h.service.set_status(CUSTOMER, campaign.id, "run")

        async def results() -> list[str]:
            return [c.result for c in await h.store.campaigncalls.of_campaign(CUSTOMER, campaign.id)]

        for _ in range(200):
            if await results() == ["success"]:
                break
            await asyncio.sleep(0.05)
        assert (await h.store.campaigns.get(CUSTOMER, campaign.id)).status == "run"  # still waiting for work
        await h.service.resources.create_target(OutdialTarget(
            customer_id=CUSTOMER, outdial_id=campaign.outdial_id, name="talk12",
            destination_0=Address(type="extension", target="talk12")))
        for _ in range(300):
            if await results() == ["success", "success"]:
                break
            await asyncio.sleep(0.05)
        assert await results() == ["success", "success"]
        await h.service.set_status(CUSTOMER, campaign.id, "stop")
        await asyncio.wait_for(h.service.wait_stopped(campaign.id), 30)
        assert (await h.store.campaigns.get(CUSTOMER, campaign.id)).status == "stop"

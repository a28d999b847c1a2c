"""The activeflow runner on activeflows without a call: cursor rules, loops, limits, block, fetch."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flowengine.flow.activeflow import Activeflow, ActiveflowStatus, ReferenceType
from flowengine.flow.context import Services, ServicesLink
from flowengine.flow.model import Flow
from flowengine.flow.service import FlowService
from tests.support import Flows


def flow(actions: list[dict[str, Any]], **extra: Any) -> Flow:
    return Flow.model_validate({"id": extra.pop("id", "f1"), "name": "test", "actions": actions, **extra})


async def run(f: Flow, services: Services | None = None, **kwargs: Any) -> Activeflow:
    services = services or Services(flows=Flows(f))
    service = FlowService(services)
    runner = service.create(f, reference_type=ReferenceType.API, **kwargs)
    return await asyncio.wait_for(service.run(runner), 10)


def executed(af: Activeflow) -> list[str]:
    return [a.id for a in af.executed_actions] + [af.current_action.id]


async def test_runs_in_order_and_ends_at_the_last_action() -> None:
    af = await run(flow([{"id": "a", "type": "empty"}, {"id": "b", "type": "variable_set",
                                                        "option": {"key": "x", "value": "1"}}]))
    assert af.status == ActiveflowStatus.ENDED and af.ended_reason == "finished"
    assert executed(af) == ["a", "b"] and af.variables["x"] == "1"
    assert af.variables["voipbin.activeflow.id"] == af.id


async def test_goto_loop_count_persists_and_next_id_jumps() -> None:
    af = await run(flow([
        {"id": "top", "type": "variable_set", "option": {"key": "n", "value": "${n}x"}},
        {"id": "again", "type": "goto", "option": {"target_id": "top", "loop_count": 2}},
        {"id": "skip", "type": "empty", "next_id": "end"},
        {"id": "never", "type": "variable_set", "option": {"key": "bad", "value": "1"}},
        {"id": "end", "type": "empty"},
    ]))
    assert af.variables["n"] == "xxx"  # the body ran three times: once, then two jumps
    assert "never" not in executed(af) and executed(af)[-1] == "end"
    assert af.stack_map["00000000-0000-0000-0000-000000000001"].actions[1].option["loop_count"] == 0


async def test_an_exhausted_goto_falls_through_without_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flowengine.flow")
    af = await run(flow([
        {"id": "top", "type": "empty"},
        {"id": "again", "type": "goto", "option": {"target_id": "top", "loop_count": 1}},
        {"id": "after", "type": "empty"},
    ]))
    assert af.ended_reason == "finished" and executed(af) == ["top", "again", "top", "again", "after"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("loop_count exhausted" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


async def test_variable_set_on_an_engine_name_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    af = await run(flow([
        {"id": "own", "type": "variable_set", "option": {"key": "voipbin.activeflow.flow_id", "value": "mine"}},
        {"id": "digits", "type": "variable_set", "option": {"key": "voipbin.call.digits", "value": "12"}},
        {"id": "plain", "type": "variable_set", "option": {"key": "x", "value": "1"}},
    ]))
    assert af.variables["voipbin.activeflow.flow_id"] == "f1" and af.variables["x"] == "1"
    assert af.variables["voipbin.call.digits"] == "12"  # the digit buffer is the flow's to clear or set
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [("action own: variable 'voipbin.activeflow.flow_id' is read-only (set by the engine):"
                        " variable_set ignores this write")]


async def test_branch_picks_target_and_clears_the_variable() -> None:
    f = flow([
        {"id": "set", "type": "variable_set", "option": {"key": "choice", "value": "2"}},
        {"id": "b", "type": "branch", "option": {"variable": "choice", "default_target_id": "d",
                                                 "target_ids": {"1": "one", "2": "two"}}},
        {"id": "one", "type": "variable_set", "option": {"key": "went", "value": "one"}, "next_id": "end"},
        {"id": "two", "type": "variable_set", "option": {"key": "went", "value": "two"}, "next_id": "end"},
        {"id": "d", "type": "variable_set", "option": {"key": "went", "value": "default"}},
        {"id": "end", "type": "empty"},
    ])
    af = await run(f)
    assert af.variables["went"] == "two" and af.variables["choice"] == ""


async def test_branch_without_match_or_default_stops_with_a_reason() -> None:
    af = await run(flow([{"id": "b", "type": "branch", "option": {"variable": "nothing",
                                                                   "target_ids": {"1": "b"}}}]))
    assert "action 'b' (branch) failed: no target for nothing=''" in af.ended_reason


@pytest.mark.parametrize(("value_type", "variable", "expected"), [
    ("number", "${age}", "adult"), ("string", "age", "minor"), ("length", "${age}", "adult")])
async def test_condition_variable(value_type: str, variable: str, expected: str) -> None:
    option = {"condition": ">=", "variable": variable, "value_type": value_type, "false_target_id": "minor",
              "value_number": 18, "value_string": "5", "value_length": 2}
    af = await run(flow([
        {"id": "c", "type": "condition_variable", "option": option},
        {"id": "adult", "type": "variable_set", "option": {"key": "r", "value": "adult"}, "next_id": "end"},
        {"id": "minor", "type": "variable_set", "option": {"key": "r", "value": "minor"}},
        {"id": "end", "type": "empty"},
    ]), external={"age": "42"})
    assert af.variables["r"] == expected


async def test_infinite_loop_is_stopped_by_the_execute_limit() -> None:
    af = await run(flow([{"id": "a", "type": "empty", "next_id": "b"}, {"id": "b", "type": "empty", "next_id": "a"}]))
    assert af.ended_reason.startswith("execute-limit: more than 100 actions executed")
    assert af.execute_count == 101


async def test_stop_action_and_unsupported_and_rtc_actions() -> None:
    af = await run(flow([{"id": "s", "type": "stop"}, {"id": "x", "type": "empty"}]))
    assert af.ended_reason == "stop action" and "x" not in executed(af)
    af = await run(flow([{"id": "q", "type": "queue_join", "option": {"queue_id": "q1"}}]))
    assert "action type 'queue_join' is not supported" in af.ended_reason
    af = await run(flow([{"id": "t", "type": "talk", "option": {"text": "hi"}}]))
    assert af.ended_reason == "action 't' (talk) needs a call; this activeflow's reference is api"


async def test_block_waits_for_continue() -> None:
    f = flow([{"id": "blk", "type": "block"}, {"id": "after", "type": "variable_set",
                                                "option": {"key": "went", "value": "on"}}])
    service = FlowService(Services(flows=Flows(f)))
    runner = service.create(f, reference_type=ReferenceType.API)
    task = asyncio.ensure_future(service.run(runner))
    await asyncio.sleep(0.1)
    assert runner.activeflow.current_action.id == "blk" and not task.done()
    runner.continue_block("blk")
    af = await asyncio.wait_for(task, 5)
    assert af.variables["went"] == "on"


async def test_on_complete_flow_chain_copies_variables() -> None:
    child = flow([{"id": "c", "type": "variable_set", "option": {"key": "child", "value": "${parent}"}}], id="child")
    parent = flow([{"id": "p", "type": "variable_set", "option": {"key": "parent", "value": "yes"}}],
                  id="parent", on_complete_flow_id="child")
    seen: list[Activeflow] = []

    async def observe(af: Activeflow, event: str) -> None:
        if af.status == ActiveflowStatus.ENDED:
            seen.append(af)

    link = ServicesLink()  # the child starts through the flow service, as in the engine
    service = FlowService(link)
    link.bind(Services(flows=Flows(parent, child), observers=(observe,), start_flow=service.start_flow))
    await asyncio.wait_for(service.run(service.create(parent, reference_type=ReferenceType.API)), 5)
    await asyncio.wait_for(service.aclose(), 5)
    assert [a.flow_id for a in seen] == ["parent", "child"]
    assert seen[1].variables["child"] == "yes" and seen[1].reference_activeflow_id == seen[0].id
    assert seen[1].variables["voipbin.activeflow.complete_count"] == 1


@pytest.fixture
async def http_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def actions(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response([{"id": "fetched", "type": "variable_set", "option": {"key": "f", "value": "1"}},
                                  {"type": "webhook_send", "option": {"uri": str(request.url.with_path("/hook")),
                                                                      "sync": True, "data": {"x": "${f}"}}}])

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>not actions</html>")

    async def hook(request: web.Request) -> web.Response:
        received.append({"hook": json.loads(await request.read())})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/actions", actions)
    app.router.add_post("/garbage", garbage)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


async def test_fetch_pushes_actions_that_run_next(http_server: tuple[str, list[dict[str, Any]]]) -> None:
    base, received = http_server
    f = flow([{"id": "get", "type": "fetch", "option": {"event_url": f"{base}/actions"}},
              {"id": "after", "type": "variable_set", "option": {"key": "after", "value": "${f}"}}])
    async with aiohttp.ClientSession() as http:
        af = await run(f, Services(flows=Flows(f), http=http))
    assert af.ended_reason == "finished"
    assert received[0] == {"activeflow_id": af.id, "reference_id": af.reference_id}
    assert received[1] == {"hook": {"x": "1"}}
    assert af.variables["after"] == "1"  # came back after the fetched stack ran out
    assert len(af.stack_map) == 1


async def test_fetch_of_garbage_ends_with_a_clear_reason(http_server: tuple[str, list[dict[str, Any]]]) -> None:
    base, _ = http_server
    f = flow([{"id": "get", "type": "fetch", "option": {"event_url": f"{base}/garbage"}}])
    async with aiohttp.ClientSession() as http:
        af = await run(f, Services(flows=Flows(f), http=http))
    assert af.ended_reason.startswith(f"action 'get' (fetch) failed: fetch {base}/garbage: response is not JSON")


async def test_a_known_action_without_executor_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowengine.flow.handlers import EXECUTORS

    # every catalogued action has an executor once flowengine.ai is loaded: take one away for this test
    monkeypatch.setattr(EXECUTORS, "_items", {k: e for k, e in EXECUTORS._items.items() if k != "ai_summary"})
    af = await run(flow([{"id": "ai", "type": "ai_summary", "option": {"reference_type": "call"}}]))
    assert af.ended_reason == "action 'ai': action type 'ai_summary' cannot run yet: this engine has no executor for it"


async def test_condition_datetime_compares_only_given_fields_in_a_timezone() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    other_month = now.month % 12 + 1
    f = flow([
        {"id": "today", "type": "condition_datetime", "option": {
            "condition": "==", "day": now.day, "timezone": "Asia/Tokyo", "false_target_id": "closed"}},
        {"id": "month", "type": "condition_datetime", "option": {
            "condition": "==", "month": other_month, "timezone": "Asia/Tokyo", "false_target_id": "closed"}},
        {"id": "open", "type": "variable_set", "option": {"key": "r", "value": "open"}, "next_id": "end"},
        {"id": "closed", "type": "variable_set", "option": {"key": "r", "value": "closed"}},
        {"id": "end", "type": "empty"},
    ])
    af = await run(f)
    ran = [a.id for a in af.executed_actions]
    assert ran[:2] == ["today", "month"] and af.variables["r"] == "closed"


async def test_external_variables_are_checked() -> None:
    from flowengine.flow.errors import ExternalVariablesError

    f = flow([{"id": "a", "type": "empty"}])
    service = FlowService(Services(flows=Flows(f)))
    with pytest.raises(ExternalVariablesError, match="voipbin"):
        service.create(f, reference_type=ReferenceType.API, external={"voipbin.call.id": "spoof", "ok": "1"})
    af = await run(f, external={" name ": "Alice"})
    assert af.variables["name"] == "Alice"


async def test_fetch_flow_runs_another_flows_actions_then_returns() -> None:
    sub = flow([{"id": "s1", "type": "variable_set", "option": {"key": "from_sub", "value": "yes"}}], id="sub")
    main = flow([{"id": "m1", "type": "fetch_flow", "option": {"flow_id": "sub"}},
                 {"id": "m2", "type": "variable_set", "option": {"key": "back", "value": "${from_sub}"}},
                 {"id": "m3", "type": "fetch_flow", "option": {"flow_id": "missing"}},
                 {"id": "m4", "type": "empty"}], id="main")
    af = await run(main, Services(flows=Flows(main, sub)))
    assert af.variables["back"] == "yes"
    assert [a.id for a in af.executed_actions] == ["m1", "s1", "m2"]
    assert af.ended_reason == "action 'm3' (fetch_flow) failed: flow 'missing' not found"


@pytest.mark.parametrize(("hangup_after", "ended_reason"), [
    (0.05, "hangup"),  # the refusal overtook the hangup event: the caller left, the flow goes no further
    (None, "finished"),  # no hangup follows within the grace: a plain failure, the flow moves on
])
async def test_an_action_refused_for_a_gone_channel_waits_for_the_hangup(
    monkeypatch: pytest.MonkeyPatch, hangup_after: float | None, ended_reason: str
) -> None:
    from flowengine.asterisk.app import Call
    from flowengine.asterisk.ari.client import AriClient
    from flowengine.asterisk.ari.handles import ChannelHandle
    from flowengine.asterisk.ari.models import Channel
    from flowengine.asterisk.ari.rest import AriHTTPError
    from flowengine.asterisk.routing import Route
    from flowengine.flow import runner as runner_module
    from flowengine.flow.handlers import EXECUTORS, Executor

    monkeypatch.setattr(runner_module, "HANGUP_GRACE_S", 0.5)
    client = AriClient("http://127.0.0.1:1", "u", "p", "flowengine")
    call = Call(ChannelHandle(client, "chan-1", Channel(id="chan-1", state="Up")), Route("f1", "test"), "1000", {})

    async def refused(ctx: object, opts: object) -> None:
        if hangup_after is not None:
            asyncio.get_running_loop().call_later(hangup_after, call.ended.set)
        raise AriHTTPError("POST", "/channels/chan-1/play", 404, "Channel not found")

    monkeypatch.setattr(EXECUTORS, "_items", {**EXECUTORS._items, "play": Executor("play", refused, "next", True)})
    f = flow([{"id": "wait", "type": "play", "option": {"stream_urls": ["tt-monkeys"]}},
              {"id": "never", "type": "variable_set", "option": {"key": "x", "value": "1"}}])
    service = FlowService(Services(flows=Flows(f)))
    runner = service.create(f, reference_type=ReferenceType.API, call=call)
    af = await asyncio.wait_for(service.run(runner), 10)
    assert af.ended_reason == ended_reason
    assert ("x" in af.variables) is (ended_reason == "finished")
    await client.aclose()


@pytest.mark.parametrize(("ends_call", "ended_reason"), [
    (True, "hangup action (normal)"),  # the hangup's own end: the action finishes and gives its reason
    (False, "hangup"),  # any other action is cancelled when the call ends
])
async def test_an_action_that_hangs_up_finishes_when_its_hangup_event_comes_first(
    monkeypatch: pytest.MonkeyPatch, ends_call: bool, ended_reason: str
) -> None:
    # Asterisk's hangup event can reach the engine before the answer to the DELETE that caused it (a full test run
    # saw an IVR's hangup action end as plain "hangup")
    from flowengine.asterisk.app import Call
    from flowengine.asterisk.ari.client import AriClient
    from flowengine.asterisk.ari.handles import ChannelHandle
    from flowengine.asterisk.ari.models import Channel
    from flowengine.asterisk.routing import Route
    from flowengine.flow.handlers import EXECUTORS, Executor

    client = AriClient("http://127.0.0.1:1", "u", "p", "flowengine")
    call = Call(ChannelHandle(client, "chan-1", Channel(id="chan-1", state="Up")), Route("f1", "test"), "1000", {})

    async def hangs_up(ctx: Any, opts: object) -> None:
        call.ended.set()  # the event, then the answer to the request
        await asyncio.sleep(0.05)
        ctx.stop("hangup action (normal)")

    monkeypatch.setattr(EXECUTORS, "_items", {**EXECUTORS._items,
                                              "hangup": Executor("hangup", hangs_up, "next", False, ends_call)})
    f = flow([{"id": "bye", "type": "hangup"}])
    service = FlowService(Services(flows=Flows(f)))
    runner = service.create(f, reference_type=ReferenceType.API, call=call)
    af = await asyncio.wait_for(service.run(runner), 10)
    assert af.ended_reason == ended_reason
    await client.aclose()

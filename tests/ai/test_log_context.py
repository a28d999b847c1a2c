"""Two AI calls at once on real calls: every record logged for an AI call carries its own aicall and call ids."""
from __future__ import annotations

import logging
from pathlib import Path

from flowengine.asterisk.ari.client import AriClient
from flowengine.logs import ContextFilter
from tests.ai.fakes import ScriptedSTT, ScriptedToolLLM
from tests.ai.test_ai_talk import FLOW, ai_harness
from tests.conftest import Asterisk
from tests.flow.calls import place_call
from tests.support import eventually


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.contexts: list[tuple[str, dict[str, str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.contexts.append((f"{record.name}: {record.getMessage()}", dict(getattr(record, "context", {}))))


async def test_two_ai_calls_log_each_with_its_own_ids(asterisk: Asterisk, ari: AriClient, tmp_path: Path) -> None:
    records = Records()
    package = logging.getLogger("flowengine")
    level = package.level
    package.addHandler(records)
    package.setLevel(logging.DEBUG)
    try:
        async with ai_harness(asterisk, ari, tmp_path, ScriptedToolLLM([]), ScriptedSTT([]),
                              first_message="Hello, this is the dental office.") as (h, service, statuses):
            h.flows.add(FLOW)
            callers = [await place_call(ari), await place_call(ari)]
            await eventually(lambda: statuses.count("aicall_status_progressing") == 2, what="two AI calls talking")
            lives = list(service.live.values())
            await eventually(lambda: all(live.record.status == "progressing" for live in lives), what="progressing")
            for caller in callers:
                await caller.hangup()
            await h.wait_ended(count=2, timeout=30)
            await eventually(lambda: statuses.count("aicall_status_terminated") == 2, what="both terminated")
    finally:
        package.removeHandler(records)
        package.setLevel(level)
    calls_of: dict[str, set[str]] = {}
    for message, context in records.contexts:
        if "aicall_id" in context:
            assert "call_id" in context, message
            calls_of.setdefault(context["aicall_id"], set()).add(context["call_id"])
    aicall_ids = {live.record.id for live in lives}
    assert set(calls_of) == aicall_ids
    # each AI call's records name one call, its own, and the two calls differ
    assert {live.record.id: {live.record.reference_id} for live in lives} == calls_of
    for live in lives:
        own = [m for m, c in records.contexts if c.get("aicall_id") == live.record.id]
        assert f"flowengine.ai.aicall: aicall {live.record.id} progressing" in own
        # media records of the call (its session's close-down) are among them
        assert any(m.startswith("flowengine.media.session: media session") for m in own), own

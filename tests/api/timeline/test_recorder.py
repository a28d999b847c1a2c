"""The timeline recorder places events on their call (through the activeflow and the AI call) and keeps a
call's timeline bounded: past the limit one `truncated` entry, and the call's end is still written."""
from __future__ import annotations

import uuid
from pathlib import Path

from flowengine.ai import events as ev
from flowengine.api.timeline.recorder import TimelineRecorder
from flowengine.events import EventBus
from flowengine.store import Store
from flowengine.store.timelines import MAX_ENTRIES


async def test_events_reach_their_call_and_a_timeline_stays_bounded(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}")
    bus = EventBus()
    recorder = TimelineRecorder(store, bus)
    customer, call_id, other_call, af, aicall = (str(uuid.uuid4()) for _ in range(5))
    try:
        bus.emit("call_created", customer, {"id": call_id, "direction": "incoming", "status": "ringing",
                                            "source": {"type": "tel", "target": "+15550100"},
                                            "destination": {"type": "tel", "target": "1000"}})
        bus.emit("activeflow_updated", customer, {"id": af, "reference_type": "call", "reference_id": call_id,
                                                  "status": "running", "executed_actions": [],
                                                  "current_action": {"id": "a1", "type": "ai_talk"}})
        bus.emit("activeflow_updated", customer, {"id": af, "reference_type": "call", "reference_id": call_id,
                                                  "status": "running", "executed_actions": [],
                                                  "current_action": {"id": "a1", "type": "ai_talk"}})  # same action
        bus.emit("aicall_status_progressing", customer, {"id": aicall, "status": "progressing",
                                                         "reference_type": "call", "reference_id": call_id})
        bus.emit(ev.TOOL_CALL, customer, {"aicall_id": aicall, "activeflow_id": af, "name": "book",
                                          "arguments": "x" * 1000, "kind": "function"})
        bus.emit("call_created", customer, {"id": other_call, "direction": "incoming", "status": "ringing"})
        for n in range(MAX_ENTRIES + 20):
            bus.emit(ev.TURN_ENDED, customer, {"aicall_id": aicall, "activeflow_id": af, "index": n + 1,
                                               "voice_to_voice_ms": 500.0})
        bus.emit("call_hangup", customer, {"id": call_id, "hangup_by": "remote", "hangup_reason": "normal"})
        await recorder.drain()
        entries = await store.timelines.of_call(call_id, customer)
        kinds = [e.type for e in entries]
        assert kinds[:4] == ["call_created", "action", "ai_started", "tool_call"]
        assert len(entries) == MAX_ENTRIES + 2 and kinds[-2:] == ["truncated", "call_hangup"]
        assert len(entries[3].data["arguments"]) < 400  # long values are cut
        assert [e.type for e in await store.timelines.of_call(other_call, customer)] == ["call_created"]
        assert await store.timelines.of_call(call_id, str(uuid.uuid4())) == []  # another customer sees nothing
    finally:
        await recorder.aclose()
        await store.aclose()

"""Writes each call's timeline from the event bus (flow actions, AI status, transcript, turn latencies,
barge-ins, tool calls, the end) and from the webhook worker's sends; one writer task stores entries in batches."""
from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flowengine.ai import events as ev
from flowengine.api.webhooks.sender import Answer
from flowengine.events import Event, EventBus
from flowengine.store import OutboxRow, Store
from flowengine.store.timelines import MAX_ENTRIES, TimelineEntry
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # calls, activeflows and AI calls whose ids are kept to place late events
MAX_QUEUED = 50_000
BATCH = 500
TEXT_LIMIT = 300
AI_STEPS = {"pausing": "ai_paused", "resuming": "ai_resumed"}
END_TYPES = frozenset({"call_hangup", "ai_ended", "flow_ended"})  # kept past the per-call limit
TURN_KEYS = ("index", "voice_to_voice_ms", "endpointing_ms", "stt_ms", "stt_wait_ms", "llm_first_token_ms",
             "tts_first_audio_ms", "engine_ms", "ended_by", "input_tokens", "output_tokens", "interrupted")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "..."


class _Lru(OrderedDict[str, Any]):
    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > REMEMBERED:
            self.popitem(last=False)


class TimelineRecorder:
    """Listens to the bus (publishing never waits: entries go to a queue). Entries per call stop at
    `MAX_ENTRIES` (a `truncated` entry says so); the call's end is always written."""

    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.dropped = 0
        self._call_of_activeflow = _Lru()
        self._call_of_aicall = _Lru()
        self._counts = _Lru()  # call id -> entries so far
        self._last_action = _Lru()  # activeflow id -> (executed count, current action id)
        self._queue: deque[TimelineEntry] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._idle = asyncio.Event()  # nothing queued, nothing being written
        self._idle.set()
        self._writer = TaskOwner("call timelines")
        self._writer.start(self._write_loop(), name="call timeline writer")
        self._unsubscribe = bus.subscribe(self._on_event)

    # -- what becomes an entry ------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        data = event.data
        kind = event.type
        if kind.startswith("call_"):
            self._on_call(event)
        elif kind.startswith("activeflow_"):
            self._on_activeflow(event)
        elif kind.startswith(ev.STATUS_PREFIX):
            self._on_aicall_status(event)
        elif kind == ev.AIMESSAGE_CREATED and data.get("role") in ("user", "assistant") and data.get("content"):
            self._add(event, self._aicall_call(data), "message", {"role": data["role"], "text": _short(data["content"])})
        elif kind == ev.TOOL_CALL:
            self._add(event, self._aicall_call(data), "tool_call",
                      {"name": data.get("name", ""), "arguments": _short(data.get("arguments", "")),
                       "kind": data.get("kind", "")})
        elif kind == ev.TOOL_RESULT:
            self._add(event, self._aicall_call(data), "tool_result",
                      {"name": data.get("name", ""), "success": data.get("success"),
                       "result": _short(data.get("result", ""))})
        elif kind == ev.TURN_ENDED:
            self._add(event, self._aicall_call(data), "turn", {k: data.get(k) for k in TURN_KEYS})
        elif kind == ev.BARGE_IN:
            self._add(event, self._aicall_call(data), "barge_in", {"dropped_ms": data.get("dropped_ms")})

    def _on_call(self, event: Event) -> None:
        data, call_id = event.data, str(event.data.get("id", ""))
        if event.type == "call_created":
            self._add(event, call_id, "call_created", {
                "direction": data.get("direction", ""), "status": data.get("status", ""),
                "source": _address(data.get("source")), "destination": _address(data.get("destination"))})
        elif event.type == "call_hangup":
            self._add(event, call_id, "call_hangup", {"hangup_by": data.get("hangup_by", ""),
                                                      "hangup_reason": data.get("hangup_reason", "")})
        elif event.type == "call_updated":
            status = str(data.get("status", ""))
            if self._last_action.get(f"call:{call_id}") != status:
                self._last_action.remember(f"call:{call_id}", status)
                if status not in ("hangup", "dialing"):
                    self._add(event, call_id, "call_status", {"status": status})

    def _on_activeflow(self, event: Event) -> None:
        data, af_id = event.data, str(event.data.get("id", ""))
        if data.get("reference_type") != "call":
            return
        call_id = str(data.get("reference_id", ""))
        self._call_of_activeflow.remember(af_id, call_id)
        action = data.get("current_action") or {}
        key = (len(data.get("executed_actions") or ()), action.get("id"))
        if data.get("status") == "ended":
            self._add(event, call_id, "flow_ended", {"activeflow_id": af_id,
                                                     "ended_reason": data.get("ended_reason", "")})
        elif action.get("type") and self._last_action.get(af_id) != key:
            self._last_action.remember(af_id, key)
            self._add(event, call_id, "action", {"activeflow_id": af_id, "id": action.get("id", ""),
                                                 "type": action.get("type", "")})

    def _on_aicall_status(self, event: Event) -> None:
        data, aicall_id = event.data, str(event.data.get("id", ""))
        if data.get("reference_type") == "call":
            self._call_of_aicall.remember(aicall_id, str(data.get("reference_id", "")))
        call_id = self._aicall_call({**data, "aicall_id": aicall_id})
        status = str(data.get("status", ""))
        if status == "progressing" and aicall_id not in self._last_action:
            self._last_action.remember(aicall_id, status)
            self._add(event, call_id, "ai_started", {
                "aicall_id": aicall_id, "engine_model": data.get("ai_engine_model", ""),
                "stt": data.get("ai_stt_type", ""), "tts": data.get("ai_tts_type", "")})
        elif status in AI_STEPS:
            self._add(event, call_id, AI_STEPS[status], {"aicall_id": aicall_id})
        elif status == "terminated":
            self._add(event, call_id, "ai_ended", {"aicall_id": aicall_id, "ended_reason": data.get("ended_reason", "")})

    def _aicall_call(self, data: Mapping[str, Any]) -> str:
        aicall_id = str(data.get("aicall_id", ""))
        call_id = self._call_of_aicall.get(aicall_id)
        if call_id is None:
            call_id = self._call_of_activeflow.get(str(data.get("activeflow_id", "")), "")
        return str(call_id)

    def webhook_attempt(self, row: OutboxRow, answer: Answer) -> None:
        """The webhook worker sent a row (this node's or another's): a call's events show as webhooks sent."""
        try:
            body = json.loads(row.body)
        except ValueError:
            return
        data = body.get("data") or {}
        kind = str(body.get("type", ""))
        if kind.startswith("call_"):
            call_id = str(data.get("id", ""))
        elif kind.startswith("activeflow_"):
            call_id = str(data.get("reference_id", "")) if data.get("reference_type") == "call" else ""
        elif kind.startswith(ev.STATUS_PREFIX):
            call_id = self._aicall_call(data | {"aicall_id": data.get("id", "")})
        else:
            call_id = self._aicall_call(data)
        url = urlsplit(row.url)
        outcome = "delivered" if answer.ok else ("failed, retried" if answer.retryable else "rejected")
        self._put(TimelineEntry(row.customer_id, call_id, datetime.now(UTC), "webhook", {
            "event_type": kind, "url": f"{url.scheme}://{url.hostname}{url.path}", "status": answer.status,
            "attempt": row.attempts + 1, "outcome": outcome, "problem": _short(answer.problem)}))

    def _add(self, event: Event, call_id: str, type: str, data: dict[str, Any]) -> None:
        self._put(TimelineEntry(event.customer_id, call_id, event.tm, type, data))

    def _put(self, entry: TimelineEntry) -> None:
        if not entry.call_id:
            return
        n = self._counts.get(entry.call_id, 0)
        self._counts.remember(entry.call_id, n + 1)
        if n >= MAX_ENTRIES and entry.type not in END_TYPES:
            if n == MAX_ENTRIES:
                entry = TimelineEntry(entry.customer_id, entry.call_id, entry.tm, "truncated",
                                      {"after_entries": MAX_ENTRIES})
            else:
                self._counts[entry.call_id] = n  # not counted: only the end goes on
                return
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append(entry)
        self._idle.clear()
        self._wake.set()

    # -- writing ---------------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        while not (self._closing and not self._queue):
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            try:
                await self.store.timelines.add(batch)
            except Exception:
                self.dropped += len(batch)
                log.exception("call timelines unwritable: %d entries dropped", len(batch))
                if self._closing:
                    return
                await asyncio.sleep(1.0)
            finally:
                if not self._queue:
                    self._idle.set()

    async def drain(self, timeout: float = 5.0) -> None:
        """Until every entry accepted so far is written (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def aclose(self) -> None:
        self._unsubscribe()
        self._closing = True
        self._wake.set()
        await self._writer.aclose(timeout=5.0)


def _address(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"{value.get('type', '')}:{value.get('target', '')}"
    return ""

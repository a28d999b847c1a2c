"""Calls placed through the Vapi and VoiceOS front doors: dial the number, run an AI call on the answer, track it.

One `FrontDoor` per app (ApiDeps.extra["frontdoor"]). `place()` stores a FrontCall (status queued), dials the
number through `outbound.endpoints` (address type tel), and in a task it owns: ringing -> in-progress when
the callee answers -> a one-action flow `ai_talk` with the call's AI -> ended with the AI call's ended reason.
It listens to the event bus and hands every event of its calls to the front door's `Notifier` (Vapi server
messages, VoiceOS webhooks), in order, from one worker, so delivery never blocks a call."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from flowengine.ai.postcall.outcome import END_OF_CALL_REPORT
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, unavailable
from flowengine.api.webhooks import WebhookSender
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.events import ChannelDestroyed, Dial, StasisEnd
from flowengine.asterisk.ari.subscriptions import Subscription
from flowengine.asterisk.routing import Route
from flowengine.events import Event
from flowengine.flow import varnames as v
from flowengine.flow.actions.bridging import Leg, endpoint_for
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.handlers import ActionFailed
from flowengine.flow.model import Flow as FlowDoc
from flowengine.flow.options.common import Address
from flowengine.store import AIcall, NotFoundError
from flowengine.store.frontdoor import FrontCall, FrontKind
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)

NOT_ANSWERED = {17: "customer-busy", 18: "customer-did-not-answer", 19: "customer-did-not-answer",
                21: "customer-did-not-answer"}
"""Vapi endedReason of a dialled number that never answered, by hangup cause (others: failed-to-connect)."""
DIALSTATUS = {"BUSY": "customer-busy", "NOANSWER": "customer-did-not-answer"}
"""Vapi endedReason by ARI's Dial `dialstatus` (the cause of a Local channel's end does not tell busy apart)."""
FAILED_TO_CONNECT = "call.start.error-failed-to-connect"
CUSTOMER_ENDED = "customer-ended-call"


@dataclass
class Notifier:
    """What a front door does with its calls' events: `event(call, event)` for bus events of the call's AI
    call, `status(call)` after each status change of the call, `relay(call, live, tool_call)` answers a
    function tool (None: the tool's server.url does)."""

    event: Callable[[FrontCall, Event], Awaitable[None]]
    status: Callable[[FrontCall], Awaitable[None]]
    relay: Callable[[FrontCall, Any, Any], Awaitable[tuple[bool, str] | None]] | None = None


@dataclass
class _Job:
    record: FrontCall
    event: Event | None  # None: a status change


@dataclass
class Placement:
    """What to run on the answered call: the AI (or team) and this call's variable values."""

    assistance_type: str
    assistance_id: str
    variable_values: dict[str, Any] = field(default_factory=dict)
    caller: str = ""  # caller id shown to the callee


def now() -> datetime:
    return datetime.now(UTC)


class FrontDoor:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self.notifiers: dict[FrontKind, Notifier] = {}
        self.calls: dict[str, FrontCall] = {}  # live ones, by id
        self.by_leg: dict[str, str] = {}
        self.by_aicall: dict[str, str] = {}
        self.secrets: dict[str, str] = {}  # call id -> the hook secret (kept in memory only)
        self.queue: asyncio.Queue[_Job] = asyncio.Queue(10_000)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._sender: WebhookSender | None = None
        self._worker = asyncio.ensure_future(self._work())
        self._unsubscribe = deps.events.subscribe(self._on_event)
        service = deps.engine.aicalls if deps.engine is not None else None
        if service is not None:
            service.tool_relay = self._relay

    @classmethod
    def of(cls, deps: ApiDeps) -> FrontDoor:
        door = deps.extra.get("frontdoor")
        if not isinstance(door, FrontDoor):
            door = deps.extra["frontdoor"] = cls(deps)
        return door

    @property
    def sender(self) -> WebhookSender:
        if self._sender is None:
            self._http = aiohttp.ClientSession()
            self._sender = WebhookSender(self._http, attempts=3, backoff_s=0.5)
        return self._sender

    @property
    def http(self) -> aiohttp.ClientSession:
        _ = self.sender
        assert self._http is not None
        return self._http

    # -- placing a call ---------------------------------------------------------------------------
    async def place(self, record: FrontCall, placement: Placement, *, secret: str = "") -> FrontCall:
        service = self.deps.flow_service()
        try:
            endpoint = endpoint_for(service.services, Address(type="tel", target=record.to_number))
        except ActionFailed as exc:
            raise bad_request(str(exc), "to_number" if record.kind == "voiceos" else "customer.number") from None
        flow = FlowDoc.model_validate({"id": record.id, "name": f"{record.kind} call {record.id}", "actions": [
            {"type": "ai_talk", "option": {"assistance_type": placement.assistance_type,
                                           "assistance_id": placement.assistance_id,
                                           "variable_values": placement.variable_values}}]})
        record = await self.deps.store.frontcalls.create(record)
        if secret:
            self.secrets[record.id] = secret
        self.calls[record.id] = record
        await self._changed(record)
        leg = Leg(service.services.need_ari(), endpoint)
        dialed: list[str] = []  # Dial dialstatus values (BUSY, NOANSWER...): why an unanswered leg ended
        dials = service.services.need_ari().subscribe(
            lambda e: dialed.append(e.dialstatus) if isinstance(e, Dial) and e.dialstatus else None, channel_id=leg.id)
        try:
            with acting_for(record.customer_id):
                await leg.dial(service.services.dial_timeout_s, placement.caller)
        except Exception as exc:  # noqa: BLE001 - any ARI failure: the call is ended, the client told
            leg.events.close()
            dials.close()
            log.warning("front door call %s: dialling %s failed: %s", record.id, endpoint, exc)
            await self._end(record, FAILED_TO_CONNECT)
            raise unavailable(f"the number could not be dialled: {exc}") from None
        self.by_leg[leg.id] = record.id
        record = await self._update(record, status="ringing", call_id=leg.id)
        task = asyncio.ensure_future(self._run(record, leg, flow, dialed, dials))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return record

    async def _run(self, record: FrontCall, leg: Leg, flow: FlowDoc, dialed: list[str], dials: Subscription) -> None:
        service = self.deps.flow_service()
        reason = ""
        try:
            if not await leg.wait_answer():
                why = DIALSTATUS.get(dialed[-1] if dialed else "") or NOT_ANSWERED.get(leg.cause, FAILED_TO_CONNECT)
                await self._end(record, why)
                return
            assert leg.handle is not None
            record = await self._update(record, status="in-progress", tm_start=now())
            call = Call(leg.handle, Route(flow.id or "", "front door"), record.to_number, {})
            watcher = service.services.need_ari().subscribe(
                lambda e: call.ended.set() if isinstance(e, (StasisEnd, ChannelDestroyed)) else None,
                channel_id=leg.id)
            try:
                with acting_for(record.customer_id):
                    runner = service.create(flow, reference_type=ReferenceType.CALL, reference_id=leg.id, call=call)
                    runner.activeflow.customer_id = record.customer_id
                    runner.variables.update({v.CALL_DIRECTION: "outgoing"})
                    af = await service.run(runner)
                if call.ended.is_set():  # the callee hung up (the engine's own hangup comes after, in close)
                    reason = CUSTOMER_ENDED
                if af.ended_reason and "ai_talk" in af.ended_reason and "failed" in af.ended_reason.lower():
                    reason = "pipeline-error-flowengine-failed"
            finally:
                watcher.close()
        except Exception:
            log.exception("front door call %s failed", record.id)
            reason = reason or "pipeline-error-flowengine-failed"
        finally:
            dials.close()
            await leg.close()
            self.by_leg.pop(leg.id, None)
            current = self.calls.get(record.id)  # None: already ended (an unanswered dial ends above)
            if current is not None and current.status != "ended":
                aicall = await self._aicall_of(current, leg.id)
                said = aicall.ended_reason if aicall is not None else ""
                # an AI call that ended without a reason of its own ("ended") ended because the line did
                await self._end(current, said if said not in ("", "ended") else reason or CUSTOMER_ENDED, aicall)

    async def _aicall_of(self, record: FrontCall, leg_id: str) -> AIcall | None:
        page = await self.deps.store.aicalls.list_page(record.customer_id, page_size=5,
                                                       filters={"reference_id": leg_id})
        return page.items[0] if page.items else None

    async def _end(self, record: FrontCall, reason: str, aicall: AIcall | None = None) -> None:
        changes: dict[str, Any] = {"status": "ended", "ended_reason": reason, "tm_end": now()}
        if aicall is not None:
            changes["aicall_id"] = aicall.id
        await self._update(record, **changes)
        self.calls.pop(record.id, None)
        if aicall is not None:
            self.by_aicall.pop(aicall.id, None)

    async def _update(self, record: FrontCall, **changes: Any) -> FrontCall:
        record = await self.deps.store.frontcalls.update(record.customer_id, record.id, **changes)
        if record.status != "ended":
            self.calls[record.id] = record
        if "status" in changes:
            await self._changed(record)
        return record

    async def _changed(self, record: FrontCall) -> None:
        self._put(_Job(record, None))

    def _put(self, job: _Job) -> None:
        if self.queue.full():
            log.warning("front door hook queue full: an event of call %s is dropped", job.record.id)
            return
        self.queue.put_nowait(job)

    # -- events ----------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        data = event.data
        if event.type.startswith("aicall_status_"):
            aicall_id = str(data.get("id", ""))
            front_id = self.by_leg.get(str(data.get("reference_id", "")))
            if front_id is not None:
                self.by_aicall.setdefault(aicall_id, front_id)
        else:
            aicall_id = str(data.get("aicall_id") or event.extra.get("aicall_id") or "")
        front_id = self.by_aicall.get(aicall_id)
        record = self.calls.get(front_id) if front_id else None
        if record is None and event.type == END_OF_CALL_REPORT and aicall_id:
            self._spawn(self._late(event, aicall_id))  # the analysis finishes after the call
            return
        if record is None or record.customer_id != event.customer_id:
            return
        if record.aicall_id != aicall_id:
            record = record.model_copy(update={"aicall_id": aicall_id})
            self.calls[record.id] = record
            self._spawn(self.deps.store.frontcalls.update(record.customer_id, record.id, aicall_id=aicall_id))
        self._put(_Job(record, event))

    async def _late(self, event: Event, aicall_id: str) -> None:
        page = await self.deps.store.frontcalls.list_page(event.customer_id, page_size=1,
                                                          filters={"aicall_id": aicall_id})
        if page.items:
            self._put(_Job(page.items[0], event))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                record = job.record  # as it was when the status changed (the status handlers see each one)
                notifier = self.notifiers.get(record.kind)
                if notifier is not None:
                    if job.event is None:
                        await notifier.status(record)
                    else:
                        await notifier.event(record, job.event)
            except NotFoundError:
                pass
            except Exception:
                log.exception("front door hook delivery failed")
            finally:
                self.queue.task_done()

    async def _relay(self, live: Any, tool_call: Any) -> tuple[bool, str] | None:
        front_id = self.by_leg.get(str(live.record.reference_id))
        record = self.calls.get(front_id) if front_id else None
        notifier = self.notifiers.get(record.kind) if record is not None else None
        if record is None or notifier is None or notifier.relay is None:
            return None
        return await notifier.relay(record, live, tool_call)

    async def drain(self, timeout: float = 10.0) -> None:
        """Until every queued event was handed over (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self.queue.join()

    async def aclose(self) -> None:
        self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, self._cancel(self._worker), return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    @staticmethod
    async def _cancel(task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

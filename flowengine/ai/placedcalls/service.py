"""The placed-calls service: store a FrontCall, dial its number, run an AI call on the answer, track it to its end.

`place()` stores the call (queued), dials the number through `outbound.endpoints` (address type tel) and, in
a task it owns: ringing -> in-progress when the callee answers -> a one-action flow `ai_talk` with the
call's AI -> ended with the AI call's ended reason. It listens to the event bus and hands every event of
its calls' AI calls to the front door's hooks (flowengine.ai.placedcalls.hooks), in order, from one worker."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from flowengine.ai.aicall import AICallError, AICallService, LiveAICall
from flowengine.ai.endreasons import CUSTOMER_ENDED
from flowengine.ai.placedcalls.delivery import Delivery, News
from flowengine.ai.placedcalls.endings import ENGINE_FAILED, FAILED_TO_CONNECT, answered, unanswered
from flowengine.ai.placedcalls.errors import CallRefused, DialFailed, NotRunnable
from flowengine.ai.placedcalls.hooks import CallHooks
from flowengine.ai.placedcalls.readiness import agent_problem
from flowengine.ai.postcall.outcome import END_OF_CALL_REPORT
from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.events import ChannelDestroyed, Dial, StasisEnd
from flowengine.asterisk.ari.subscriptions import Subscription
from flowengine.asterisk.routing import Route
from flowengine.events import Event, EventBus
from flowengine.flow import varnames as v
from flowengine.flow.actions.bridging import Leg, dial_leg, endpoint_for
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.handlers import ActionFailed
from flowengine.flow.model import Flow as FlowDoc
from flowengine.flow.options.common import Address
from flowengine.flow.service import FlowService
from flowengine.providers.llm.base import ToolCall
from flowengine.store import AIcall, Store
from flowengine.store.frontdoor import FrontCall, FrontKind
from flowengine.tasks import TaskOwner
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assistance:
    """What runs on the answered call: an AI or a team, and this call's variable values. `named_by` is the
    request's field that named it (`assistantId`, `squadId`, `agent_id`), `paths` where the request gave each
    AI field (`tts_voice_id` -> `assistant.voice.voiceId`, for an AI given inline): a refusal names them."""

    type: Literal["ai", "team"]
    id: str
    variable_values: Mapping[str, Any] = field(default_factory=dict)
    named_by: str = "assistance_id"
    paths: Mapping[str, str] = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


class PlacedCalls:
    """Calls placed for the front doors. One per API; `aclose()` ends its calls' tasks and its hooks."""

    def __init__(self, store: Store, events: EventBus, flows: FlowService, ai: AICallService) -> None:
        self.store = store
        self.flows = flows
        self.ai = ai
        self.calls: dict[str, FrontCall] = {}  # live ones, by id
        self.by_leg: dict[str, str] = {}
        self.by_aicall: dict[str, str] = {}
        self._hooks: dict[str, CallHooks] = {}
        self.tasks = TaskOwner("placed calls")
        self.delivery = Delivery(self._hooks.get, self.tasks)
        self._unsubscribe = events.subscribe(self._on_event)
        ai.tool_relay = self._relay

    # -- front doors -----------------------------------------------------------------------------
    def watch(self, kind: FrontKind, hooks: CallHooks) -> None:
        """`hooks` hear about the calls of `kind` from now on (closed with the service)."""
        if kind in self._hooks:
            raise ValueError(f"the {kind} calls already have their hooks")
        self._hooks[kind] = hooks

    def hooks_for(self, kind: FrontKind) -> CallHooks | None:
        return self._hooks.get(kind)

    # -- placing a call --------------------------------------------------------------------------
    async def place(self, record: FrontCall, assistance: Assistance, *, number_field: str = "to_number") -> FrontCall:
        """Stores `record` (queued), dials `record.to_number` with `record.from_number` as caller id and
        returns the call ringing; the rest happens in the background. `CallRefused` (naming `number_field`)
        when the number cannot be dialled here, `NotRunnable` when what it would run cannot run now (checked
        before anything is stored or dialled), `DialFailed` when Asterisk could not dial it now."""
        services = self.flows.services
        try:
            endpoint = endpoint_for(services, Address(type="tel", target=record.to_number))
        except ActionFailed as exc:
            raise CallRefused(str(exc), number_field) from None
        await self._check_runnable(record.customer_id, assistance)
        flow = FlowDoc.model_validate({"id": record.id, "name": f"{record.kind} call {record.id}", "actions": [
            {"type": "ai_talk", "option": {"assistance_type": assistance.type, "assistance_id": assistance.id,
                                           "variable_values": dict(assistance.variable_values)}}]})
        record = await self.store.frontcalls.create(record)
        self.calls[record.id] = record
        self._changed(record)
        try:
            ari = services.need_ari()
            leg = Leg(ari, endpoint)
        except ActionFailed as exc:
            await self._end(record, FAILED_TO_CONNECT)
            raise DialFailed(f"the number could not be dialled: {exc}") from None
        dialed: list[str] = []  # Dial dialstatus values (BUSY, NOANSWER...): why an unanswered leg ended
        dials = ari.subscribe(
            lambda e: dialed.append(e.dialstatus) if isinstance(e, Dial) and e.dialstatus else None, channel_id=leg.id)
        try:
            with acting_for(record.customer_id):  # a call record (/v1.0/calls) from the dial on: from -> to
                await dial_leg(services, leg, record.from_number, flow_id=record.id,
                               source=Address(type="tel", target=record.from_number),
                               destination=Address(type="tel", target=record.to_number))
        except Exception as exc:  # noqa: BLE001 - any ARI failure: the call is ended, the caller told
            leg.events.close()
            dials.close()
            log.warning("placed call %s: dialling %s failed: %s", record.id, endpoint, exc)
            await self._end(record, FAILED_TO_CONNECT)
            raise DialFailed(f"the number could not be dialled: {exc}") from None
        self.by_leg[leg.id] = record.id
        record = await self._update(record, status="ringing", call_id=leg.id)
        self.tasks.start(self._run(record, leg, flow, dialed, dials), name=f"placed-call-{record.id}")
        return record

    async def _check_runnable(self, customer_id: str, assistance: Assistance) -> None:
        """The pre-dial check: the AI or team as the answered call would find it, and its providers now."""
        with acting_for(customer_id):
            try:
                agent = await self.ai.agent(assistance.type, assistance.id, customer_id)
            except AICallError as exc:
                raise NotRunnable(str(exc), assistance.named_by) from None
        problem = agent_problem(agent)
        if problem is not None:
            raise NotRunnable(problem.message, assistance.paths.get(problem.field, assistance.named_by))

    async def _run(self, record: FrontCall, leg: Leg, flow: FlowDoc, dialed: list[str], dials: Subscription) -> None:
        reason = ""
        try:
            if not await leg.wait_answer():
                await self._end(record, unanswered(dialed, leg.cause))
                return
            reason = await self._talk(record, leg, flow)
        except Exception:
            log.exception("placed call %s failed", record.id)
            reason = reason or ENGINE_FAILED
        finally:
            dials.close()
            # a line still up is hung up by us (its record: `normal` by `local`); the callee's own hangup stays theirs
            await (leg.close() if reason == CUSTOMER_ENDED else leg.drop())
            self.by_leg.pop(leg.id, None)
            current = self.calls.get(record.id)  # None: already ended (an unanswered dial ends above)
            if current is not None and current.status != "ended":
                aicall = await self._aicall_of(current, leg.id)
                await self._end(current, answered(aicall.ended_reason if aicall is not None else "", reason), aicall)

    async def _talk(self, record: FrontCall, leg: Leg, flow: FlowDoc) -> str:
        """Runs the AI call on the answered leg; returns why the line ended ("" when it did not say)."""
        assert leg.handle is not None
        record = await self._update(record, status="in-progress", tm_start=now())
        call = Call(leg.handle, Route(flow.id or "", "front door"), record.to_number, {})
        watcher = self.flows.services.need_ari().subscribe(
            lambda e: call.ended.set() if isinstance(e, (StasisEnd, ChannelDestroyed)) else None, channel_id=leg.id)
        reason = ""
        try:
            with acting_for(record.customer_id):
                runner = self.flows.create(flow, reference_type=ReferenceType.CALL, reference_id=leg.id, call=call)
                runner.activeflow.customer_id = record.customer_id
                runner.variables.update({v.CALL_DIRECTION: "outgoing"})
                registry = self.flows.services.calls
                if leg.live is not None and registry is not None:
                    if leg.live.gone.is_set():  # hung up between answer and here: the watcher came too late
                        call.ended.set()
                    await registry.attach(leg.live, runner)  # its record names the activeflow (no second one)
                af = await self.flows.run(runner)
            if call.ended.is_set():  # the callee hung up (the engine's own hangup comes after, in close)
                reason = CUSTOMER_ENDED
            if af.ended_reason and "ai_talk" in af.ended_reason and "failed" in af.ended_reason.lower():
                reason = ENGINE_FAILED
        finally:
            watcher.close()
        return reason

    async def _aicall_of(self, record: FrontCall, leg_id: str) -> AIcall | None:
        page = await self.store.aicalls.list_page(record.customer_id, page_size=5, filters={"reference_id": leg_id})
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
        record = await self.store.frontcalls.update(record.customer_id, record.id, **changes)
        if record.status != "ended":
            self.calls[record.id] = record
        if "status" in changes:
            self._changed(record)
        return record

    def _changed(self, record: FrontCall) -> None:
        self.delivery.put(News(record, None))

    # -- events of the calls' AI calls -----------------------------------------------------------
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
            self.tasks.start(self._late(event, aicall_id), name="placed-call-report")  # analysed after the call
            return
        if record is None or record.customer_id != event.customer_id:
            return
        if record.aicall_id != aicall_id:
            record = record.model_copy(update={"aicall_id": aicall_id})
            self.calls[record.id] = record
            self.tasks.start(self.store.frontcalls.update(record.customer_id, record.id, aicall_id=aicall_id),
                             name="placed-call-aicall")
        self.delivery.put(News(record, event))

    async def _late(self, event: Event, aicall_id: str) -> None:
        page = await self.store.frontcalls.list_page(event.customer_id, page_size=1, filters={"aicall_id": aicall_id})
        if page.items:
            self.delivery.put(News(page.items[0], event))

    async def _relay(self, live: LiveAICall, tool_call: ToolCall) -> tuple[bool, str] | None:
        front_id = self.by_leg.get(str(live.record.reference_id))
        record = self.calls.get(front_id) if front_id else None
        hooks = self._hooks.get(record.kind) if record is not None else None
        if record is None or hooks is None:
            return None
        return await hooks.relay(record, live, tool_call)

    # -- closing ---------------------------------------------------------------------------------
    async def drain(self, timeout: float = 10.0) -> None:
        """Until every queued news was handed to the hooks (tests, shutdown)."""
        await self.delivery.drain(timeout)

    async def aclose(self) -> None:
        """Cuts the calls still running (as the engine stops), then closes the hooks."""
        self._unsubscribe()
        if self.ai.tool_relay == self._relay:
            self.ai.tool_relay = None
        self.delivery.close()
        await self.tasks.aclose()
        for hooks in self._hooks.values():
            await hooks.aclose()

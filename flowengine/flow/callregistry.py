"""Live calls by id with their customer: records every call (inbound, API-originated, dialed by flows)
in the store, publishes VoIPBIN's call events, and controls live calls (hangup, mute, hold, talk, record).

A call has one id, a UUID: its record's id, its activeflow's reference_id, the id its events carry. Calls
the engine dials get a channel of that same id; an inbound call's id is minted when it enters Stasis
(flowengine.asterisk.app.Call.id). The Asterisk channel id is kept as the record's internal `channel_id`."""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowengine.asterisk.app import Call as AriCall
from flowengine.asterisk.ari.events import ChannelDestroyed, ChannelStateChange, Dial, Event, StasisEnd, StasisStart
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.ari.models import Bridge, Channel
from flowengine.asterisk.ari.rest import quietly
from flowengine.asterisk.ari.subscriptions import Subscription
from flowengine.asterisk.routing import Route
from flowengine.events import EventBus
from flowengine.flow import varnames as v
from flowengine.flow.actions.bridging import LegEnding
from flowengine.flow.activeflow import Activeflow, ReferenceType
from flowengine.flow.context import Services
from flowengine.flow.ids import is_unset
from flowengine.flow.model import Flow
from flowengine.flow.runner import Runner
from flowengine.flow.service import FlowService
from flowengine.store import NIL_ID, NOT_YET, Store
from flowengine.store import Call as CallRecord
from flowengine.store.calls import HangupBy, HangupReason, MuteDirection
from flowengine.store.errors import NotFoundError
from flowengine.store.records import Address
from flowengine.store.views import view
from flowengine.tasks import TaskOwner
from flowengine.tenancy import acting_for, current_customer

log = logging.getLogger(__name__)

# VoIPBIN's call status -> its webhook event
STATUS_EVENTS = {"ringing": "call_ringing", "progressing": "call_progressing", "terminating": "call_terminating",
                 "canceling": "call_canceling", "hangup": "call_hangup", "dialing": "call_dialing"}


class CallNotLive(LookupError):
    """The call is not live on this engine (hung up, or on another node)."""


DIALSTATUS_REASONS: dict[str, HangupReason] = {
    "BUSY": "busy", "NOANSWER": "noanswer", "CONGESTION": "failed", "CHANUNAVAIL": "failed", "CANCEL": "cancel"}


def hangup_reason(cause: int, answered: bool, dialstatus: str = "") -> HangupReason:
    """VoIPBIN's hangup_reason of a Q.850 cause (and of ARI's dial status for originated calls)."""
    if answered:
        return "normal"
    if dialstatus in DIALSTATUS_REASONS:
        return DIALSTATUS_REASONS[dialstatus]
    if cause == 17:
        return "busy"
    if cause in (18, 19):
        return "noanswer"
    if cause in (0, 16):
        return "cancel"
    return "failed"


def call_webhook(record: CallRecord) -> dict[str, Any]:
    """The call's webhook object: the record's view without the internal channel id."""
    return view(record, exclude=("channel_id",))


def stale_ending(call: CallRecord) -> tuple[HangupReason, HangupBy]:
    """The hangup_reason and hangup_by of a call whose engine lost it (stopped, or lost its Asterisk).

    A call already `terminating` or `canceling` was being hung up by this side: it gets what the registry
    would have written once the channel went (`normal` if it was answered, else `cancel`). Any other live
    call ended through neither party: its engine went away. VoIPBIN's `failed` is the reason of a call that
    could not go on (congestion, unavailable channel), which is what happened; `normal` would tell webhooks
    and campaigns that the conversation ended as its parties meant to, which nobody knows. Both are `local`:
    this side dropped the call."""
    answered = call.tm_progressing != NOT_YET
    if call.status == "terminating":
        return ("normal" if answered else "cancel"), "local"
    if call.status == "canceling":
        return "cancel", "local"
    return "failed", "local"


def publish_call(events: EventBus, kind: str, record: CallRecord) -> None:
    """A call event as every one goes out."""
    events.emit(kind, record.customer_id, call_webhook(record))


Verdict = Callable[[int, bool, str], tuple[HangupReason, HangupBy | None]]
"""How the dialing code reads a call's end: (Q.850 cause, answered, dial status) -> (hangup_reason, hangup_by
or None for the registry's own rule). Lets a campaign's call record and its campaigncall agree."""


def _mute_after(current: str, direction: str, on: bool) -> MuteDirection:
    now = {"in", "out"} if current == "both" else ({current} if current else set())
    change = {"in", "out"} if direction == "both" else {direction}
    now = now | change if on else now - change
    if now == {"in", "out"}:
        return "both"
    return "in" if "in" in now else ("out" if "out" in now else "")


@dataclass
class LiveCall:
    """A call of this engine from creation to hangup."""

    record: CallRecord
    channel: ChannelHandle
    answered: bool = False
    dialstatus: str = ""
    local_hangup: bool = False
    runner: Runner | None = None
    recording: tuple[str, ChannelHandle] | None = None
    subscription: Subscription | None = None
    verdict: Verdict | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # the channel is gone
    recorded: asyncio.Event = field(default_factory=asyncio.Event)  # ... and the hangup is stored
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def customer_id(self) -> str:
        return self.record.customer_id


class CallRegistry:
    """One per engine. `observe` is an activeflow observer (Services.observers): the first time a
    call's activeflow moves, a call not known yet (inbound, dialed by a flow) is recorded."""

    def __init__(self, store: Store, events: EventBus, flow_service: FlowService) -> None:
        self.store = store
        self.events = events
        self.flow_service = flow_service
        self.live: dict[str, LiveCall] = {}  # by call id
        self._by_channel: dict[str, str] = {}  # Asterisk channel id -> call id, for calls being recorded or live
        self._tasks = TaskOwner("call registry")  # record writes of call events, originated calls' flows

    @property
    def services(self) -> Services:
        return self.flow_service.services

    # -- recording calls -----------------------------------------------------------------------
    def _emit(self, kind: str, record: CallRecord) -> None:
        publish_call(self.events, kind, record)

    async def _write(self, live: LiveCall, kind: str | None = None, **changes: Any) -> CallRecord:
        async with live.lock:
            record = await self.store.calls.update(live.customer_id, live.id, **changes)
            live.record = record
        self._emit(kind or STATUS_EVENTS.get(str(changes.get("status")), "call_updated"), record)
        return record

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.start(_unless_deleted(coro), name="call-registry")

    def _watch(self, live: LiveCall, channel_id: str = "") -> None:
        def on_event(event: Event) -> None:
            if isinstance(event, ChannelStateChange):
                live.channel.snapshot = event.channel
                if event.channel.state in ("Ring", "Ringing") and live.record.status == "dialing":
                    self._spawn(self._write(live, status="ringing", tm_ringing=self.store.clock()))
                elif event.channel.state == "Up" and not live.answered:
                    self._answered(live)
            elif isinstance(event, StasisStart) and not live.answered and event.channel.state == "Up":
                self._answered(live)
            elif isinstance(event, Dial) and event.dialstatus:
                live.dialstatus = event.dialstatus
            elif isinstance(event, ChannelDestroyed):
                self._spawn(self._hung_up(live, event.cause))
            elif isinstance(event, StasisEnd) and not _away(live):
                # the call left the engine: Asterisk tells an app nothing more of a channel it left
                self._spawn(self._hung_up(live, 16))

        live.subscription = self.services.need_ari().subscribe(on_event, channel_id=channel_id or live.channel.id)

    def _answered(self, live: LiveCall) -> None:
        live.answered = True
        self._spawn(self._write(live, status="progressing", tm_progressing=self.store.clock()))

    async def _hung_up(self, live: LiveCall, cause: int, *, ending: tuple[HangupReason, HangupBy] | None = None) -> None:
        """Store and publish the call's end; `ending` overrides what the cause says (a call lost with Asterisk)."""
        if live.gone.is_set():
            return
        live.gone.set()
        log.info("call %s hung up (cause %d, dial status %r, answered %s)", live.id, cause, live.dialstatus,
                 live.answered)
        if live.subscription is not None:
            live.subscription.close()
        await self._stop_recording(live)
        af = live.runner.activeflow if live.runner is not None else None
        # ours: the API hung up, the flow's hangup action did, or its activeflow had ended
        local = live.local_hangup or (af is not None and (af.status == "ended" or af.current_action.type == "hangup"))
        reason, by = hangup_reason(cause, live.answered, live.dialstatus), None
        if live.verdict is not None:
            reason, by = live.verdict(cause, live.answered, live.dialstatus)
        if ending is not None:
            reason, by = ending
        async with live.lock:
            record, changed = await self.store.calls.hangup(
                live.customer_id, live.id, by=by or ("local" if local else "remote"), reason=reason)
            live.record = record
        self.live.pop(live.id, None)
        self._by_channel.pop(live.channel.id, None)
        live.recorded.set()
        if changed:
            self._emit("call_hangup", record)

    async def resync(self, channels: list[Channel], bridges: list[Bridge]) -> None:
        """ARI resync hook (after a reconnect): a live call whose channel vanished while Asterisk was away
        sent no hangup event and never will; it is hung up now with the ending of a call whose engine lost it
        (`stale_ending`: `failed`, `local`), as the next engine start would have done."""
        present = {c.id for c in channels}
        lost = [live for live in self.live.values() if live.channel.id not in present and not live.gone.is_set()]
        for live in lost:
            log.warning("call %s was lost with Asterisk (its channel vanished while ARI was disconnected)", live.id)
            try:
                await self._hung_up(live, 0, ending=stale_ending(live.record))
            except NotFoundError:  # deleted meanwhile
                continue

    def _register(self, live: LiveCall) -> None:
        self.live[live.id] = live
        self._by_channel[live.channel.id] = live.id
        self._emit("call_created", live.record)

    async def observe(self, af: Activeflow, event: str) -> None:
        """Activeflow observer: records calls the engine did not originate through `originate`."""
        if af.reference_type != ReferenceType.CALL or af.reference_id in self.live:
            return
        runner = self.flow_service.runners.get(af.id)
        call = runner.call if runner is not None else None
        if runner is None or call is None or call.ended.is_set() or af.status == "ended":
            return
        if call.channel.id in self._by_channel:  # known: originated here, or recorded on an earlier move
            return
        snap = call.channel.snapshot
        direction = "outgoing" if runner.variables.lookup(v.CALL_DIRECTION) == "outgoing" else "incoming"
        caller = Address(type="tel", target=snap.caller.number, target_name=snap.caller.name)
        dialed = Address(type="tel", target=call.dialed)
        answered = snap.state == "Up"
        record = CallRecord(
            id=call.id, customer_id=_owner(af), flow_id=af.flow_id or NIL_ID, activeflow_id=af.id,
            source=caller if direction == "incoming" else dialed,
            destination=dialed if direction == "incoming" else caller,
            status="progressing" if answered else "ringing", direction=direction, channel_id=call.channel.id,
            tm_progressing=self.store.clock() if answered else NOT_YET,
        )
        live = LiveCall(record, call.channel, answered=answered, runner=runner)
        self._by_channel[call.channel.id] = record.id  # this activeflow's next moves do not record it again
        self._watch(live)  # before the first await: a hangup meanwhile is not missed
        async with live.lock:
            live.record = await self.store.calls.create(record)
        self._register(live)
        if call.ended.is_set():
            await self._hung_up(live, call.hangup_cause)

    def reference_data(self, call_id: str) -> str:
        """`${voipbin.flow.reference_data}` of the call's activeflows: the JSON of the call's webhook object
        as it stands now ("" once the call is no longer live here, or before it is recorded)."""
        live = self.live.get(call_id)
        if live is None:
            return ""
        return json.dumps(call_webhook(live.record), ensure_ascii=False, separators=(",", ":"))

    # -- originating ---------------------------------------------------------------------------
    async def dial(self, customer_id: str, call_id: str, origination: Callable[[], Awaitable[ChannelHandle]], *,
                   flow_id: str, source: Address, destination: Address,
                   verdict: Verdict | None = None, master_call_id: str = "") -> LiveCall:
        """Records the outgoing call `call_id` (status `dialing`, `call_created`) around `origination`, which
        dials a channel of id `call_id`: watched from before the dial, so ringing, answer and hangup (answered
        or not) are recorded and published. The flow is attached later (`attach`). An AriError of the dial
        propagates and nothing is recorded. With `master_call_id` the call is chained to that call (`chain`)."""
        record = CallRecord(id=call_id, customer_id=customer_id, flow_id=flow_id or NIL_ID, source=source,
                            destination=destination, status="dialing", direction="outgoing", channel_id=call_id,
                            master_call_id=master_call_id or NIL_ID)
        live = LiveCall(record, ChannelHandle(self.services.need_ari(), call_id), verdict=verdict)
        self._watch(live, call_id)  # from before the dial: no state change is missed
        async with live.lock:  # event-driven writes wait for the stored row
            try:
                live.channel = await origination()
            except BaseException:
                if live.subscription is not None:
                    live.subscription.close()
                raise
            live.record = await self.store.calls.create(record)
        self._register(live)
        if master_call_id:
            await self.chain(master_call_id, call_id)
        return live

    async def chain(self, master_call_id: str, call_id: str) -> None:
        """Appends `call_id` to the live master call's `chained_call_ids` (`call_updated`), as VoIPBIN's
        ChainedCallIDAdd; a master no longer live or already ending keeps its list (logged)."""
        live = self.live.get(master_call_id)
        if live is None or live.gone.is_set() or live.record.status in ("terminating", "canceling", "hangup"):
            log.info("call %s: master call %s is not live, not chained to it", call_id, master_call_id)
            return
        async with live.lock:
            try:
                record = await self.store.calls.update(live.customer_id, live.id,
                                                       chained_call_ids=[*live.record.chained_call_ids, call_id])
            except NotFoundError:  # deleted meanwhile: the new call goes on all the same
                log.info("call %s: master call %s is gone, not chained to it", call_id, master_call_id)
                return
            live.record = record
        self._emit("call_updated", record)

    async def attach(self, live: LiveCall, runner: Runner) -> CallRecord:
        """The answered call's activeflow: the record names it (`call_updated`), and `observe` leaves the
        call to this record (no second one)."""
        live.runner = runner
        return await self._write(live, "call_updated", activeflow_id=runner.activeflow.id)

    async def originate(self, customer_id: str, flow: Flow, *, endpoint: str, source: Address,
                        destination: Address, caller_id: str = "",
                        variables: Mapping[str, str] | None = None) -> CallRecord:
        """Dial `endpoint` for `customer_id`; once answered, `flow` runs on the call (an activeflow
        with reference `call`). Returns the call as created (status `dialing`)."""
        ari = self.services.need_ari()
        call_id = str(uuid.uuid4())
        events = ari.events(call_id)

        def origination() -> Awaitable[ChannelHandle]:
            return ari.channels.originate(endpoint, channel_id=call_id, caller_id=caller_id,
                                          timeout=self.services.dial_timeout_s, formats="ulaw")
        try:
            live = await self.dial(customer_id, call_id, origination, flow_id=flow.id or NIL_ID, source=source,
                                   destination=destination, verdict=LegEnding(self.services.dial_timeout_s))
        except BaseException:
            events.close()
            raise
        with acting_for(customer_id):
            self._spawn(self._run(live, events, flow, variables or {}))
        return live.record

    async def _run(self, live: LiveCall, events: Any, flow: Flow, variables: Mapping[str, str]) -> None:
        try:
            while True:
                event = await events.get()
                if isinstance(event, StasisStart):  # an originated channel enters Stasis once answered
                    live.channel.snapshot = event.channel
                    if not live.answered:
                        self._answered(live)
                    break
                if isinstance(event, ChannelDestroyed):
                    await self._hung_up(live, event.cause)
                    return
        finally:
            events.close()
        call = AriCall(live.channel, Route(flow.id or "", "api"), live.record.destination.target, {}, call_id=live.id)

        def on_gone(event: Event) -> None:
            if isinstance(event, ChannelDestroyed):
                call.hangup_cause, call.hangup_cause_txt = event.cause, event.cause_txt
                call.ended.set()

        watcher = self.services.need_ari().subscribe(on_gone, channel_id=live.channel.id)
        try:
            if live.gone.is_set():
                return
            runner = self.flow_service.create(flow, reference_type=ReferenceType.CALL, reference_id=live.id,
                                              call=call, external=dict(variables) or None)
            runner.activeflow.customer_id = live.customer_id
            runner.variables.update({v.CALL_ID: live.id, v.CALL_DIRECTION: "outgoing"})
            await self.attach(live, runner)
            await self.flow_service.run(runner)
        finally:
            watcher.close()
            if not live.gone.is_set():
                await quietly(live.channel.hangup())

    # -- control of live calls -----------------------------------------------------------------
    async def get_live(self, customer_id: str, call_id: str) -> LiveCall:
        """The live call (NotFoundError for another customer's or an unknown id, CallNotLive when
        it is known but hung up or not on this engine)."""
        record = await self.store.calls.get(customer_id, call_id)
        live = self.live.get(call_id)
        if live is None or live.customer_id != customer_id or live.gone.is_set():
            raise CallNotLive(f"call {call_id} is {record.status}, not live on this engine")
        return live

    async def hangup(self, customer_id: str, call_id: str) -> CallRecord:
        """Hangs the call up and returns it once hung up; an ended call is returned unchanged."""
        try:
            live = await self.get_live(customer_id, call_id)
        except CallNotLive:
            return await self.store.calls.get(customer_id, call_id)
        live.local_hangup = True
        await self._write(live, status="terminating")
        await quietly(live.channel.hangup())
        try:
            await asyncio.wait_for(live.recorded.wait(), 10)
        except TimeoutError:
            log.warning("call %s: no ChannelDestroyed 10 s after hangup", call_id)
        return live.record

    async def mute(self, customer_id: str, call_id: str, direction: str, on: bool) -> CallRecord:
        live = await self.get_live(customer_id, call_id)
        if on:
            await live.channel.mute(direction)
        else:
            await live.channel.unmute(direction)
        return await self._write(live, "call_updated",
                                 mute_direction=_mute_after(live.record.mute_direction, direction, on))

    async def hold(self, customer_id: str, call_id: str, on: bool) -> CallRecord:
        live = await self.get_live(customer_id, call_id)
        await (live.channel.hold() if on else live.channel.unhold())
        return live.record

    async def moh(self, customer_id: str, call_id: str, on: bool) -> CallRecord:
        live = await self.get_live(customer_id, call_id)
        await (live.channel.start_moh() if on else live.channel.stop_moh())
        return live.record

    async def talk(self, customer_id: str, call_id: str, text: str, *, language: str = "",
                   voice_id: str = "") -> CallRecord:
        """Speaks `text` on the call (over whatever its flow plays); returns once playback started."""
        live = await self.get_live(customer_id, call_id)
        speech = self.services.speech
        if speech is None:
            raise CallNotLive("this engine has no TTS voice configured: talk is unavailable")
        if not live.answered:
            raise CallNotLive(f"call {call_id} is not answered yet")
        media = await speech.render(text, language=language, voice_id=voice_id)
        await live.channel.play(media, playback_id=f"talk-{uuid.uuid4()}")
        return live.record

    async def recording_start(self, customer_id: str, call_id: str, *, fmt: str = "wav", duration: int = 0,
                              end_of_silence: int = 0, end_of_key: str = "") -> CallRecord:
        live = await self.get_live(customer_id, call_id)
        if live.recording is not None:
            raise CallNotLive(f"call {call_id} is already being recorded")
        if not live.answered:
            raise CallNotLive(f"call {call_id} is not answered yet")
        recording_id = str(uuid.uuid4())
        snoop = await live.channel.snoop(spy="both")
        try:
            await snoop.record(recording_id, fmt=fmt, max_duration=duration, max_silence=end_of_silence,
                               terminate_on=end_of_key or "none")
        except BaseException:
            await quietly(snoop.hangup())
            raise
        live.recording = (recording_id, snoop)
        record = await self._write(live, "call_updated", recording_id=recording_id,
                                   recording_ids=[*live.record.recording_ids, recording_id])
        self.events.emit("recording_started", customer_id, {
            "id": recording_id, "customer_id": customer_id, "reference_type": "call", "reference_id": call_id,
            "format": fmt, "filenames": [f"{recording_id}.{fmt}"]})
        return record

    async def recording_stop(self, customer_id: str, call_id: str) -> CallRecord:
        live = await self.get_live(customer_id, call_id)
        if live.recording is None:
            raise CallNotLive(f"call {call_id} is not being recorded")
        await self._stop_recording(live)
        return await self._write(live, "call_updated", recording_id=NIL_ID)

    async def _stop_recording(self, live: LiveCall) -> None:
        if live.recording is None:
            return
        recording_id, snoop = live.recording
        live.recording = None
        await quietly(self.services.need_ari().rest.post(f"/recordings/live/{recording_id}/stop"))
        await quietly(snoop.hangup())
        self.events.emit("recording_finished", live.customer_id, {
            "id": recording_id, "customer_id": live.customer_id, "reference_type": "call",
            "reference_id": live.id})

    async def aclose(self) -> None:
        for live in list(self.live.values()):
            if not live.gone.is_set():
                live.local_hangup = True
                await quietly(live.channel.hangup())
        await self._tasks.aclose(timeout=10)  # the hangups just made are recorded meanwhile
        for live in self.live.values():
            if live.subscription is not None:
                live.subscription.close()


def _owner(af: Activeflow) -> str:
    """The customer of a call the engine did not originate: its activeflow's (an inbound call on a customer's
    number runs as that customer), else the customer the running task acts for."""
    return af.customer_id if not is_unset(af.customer_id) else current_customer()


def _away(live: LiveCall) -> bool:
    """Out in the dialplan on an errand (echo...), to come back into Stasis."""
    call = live.runner.call if live.runner is not None else None
    return call is not None and call.away


async def _unless_deleted(coro: Coroutine[Any, Any, Any]) -> None:
    """A call record deleted meanwhile (DELETE /calls) is not a failure of the write that finds it gone."""
    try:
        await coro
    except NotFoundError as exc:
        log.debug("call record gone: %s", exc)

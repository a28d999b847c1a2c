"""Executors that join calls together: confbridge_join, connect (dial and bridge), call (new calls)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDestroyed, ChannelLeftBridge, Event, StasisEnd, StasisStart
from flowengine.asterisk.ari.handles import BridgeHandle, ChannelHandle
from flowengine.asterisk.ari.rest import AriError
from flowengine.asterisk.ari.subscriptions import EventQueue
from flowengine.flow.actions.calls import answer_if_needed
from flowengine.flow.context import ActionContext, Services
from flowengine.flow.handlers import ActionFailed, cleanup, executor
from flowengine.flow.model import Flow
from flowengine.flow.options import bridge as opt
from flowengine.flow.options.common import Address
from flowengine.store.records import Address as RecordAddress
from flowengine.tenancy import current_customer

if TYPE_CHECKING:
    from flowengine.flow.callregistry import LiveCall
    from flowengine.store.calls import HangupBy, HangupReason

log = logging.getLogger(__name__)

# Q.850 cause -> the ARI hangup reason that relays it
CAUSE_REASONS = {16: "normal", 17: "busy", 18: "no_answer", 19: "no_answer", 21: "rejected", 1: "unallocated",
                 34: "congestion", 38: "congestion", 41: "failure", 31: "normal_unspecified"}
# How close to the dial timeout an unanswered end counts as our timeout (ARI reports no cause for it).
DIAL_TIMEOUT_SLACK_S = 0.5


def dial_timed_out(started: float, timeout_s: int) -> bool:
    """Whether a leg dialled at monotonic time `started` that ended unanswered now ended by our own dial
    timeout of `timeout_s` (ARI gives no cause for it, so an end this close to it counts as ours)."""
    return time.monotonic() - started >= timeout_s - DIAL_TIMEOUT_SLACK_S


@dataclass
class LegEnding:
    """How a dialled leg's call record reads its end (a callregistry `Verdict`): hung up by us before
    answer (`Leg.drop`) is `cancel` by `local`; unanswered at our dial timeout is our `noanswer`, as for
    campaign calls; anything else follows the registry's rule."""

    timeout_s: int
    started: float = field(default_factory=time.monotonic)
    dropped: bool = False

    def __call__(self, cause: int, answered: bool, dialstatus: str) -> tuple[HangupReason, HangupBy | None]:
        from flowengine.flow.callregistry import hangup_reason  # the registry imports this module

        if not answered and self.dropped:
            return "cancel", "local"
        if not answered and dial_timed_out(self.started, self.timeout_s):
            return "noanswer", "local"
        return hangup_reason(cause, answered, dialstatus), None


def endpoint_for(services: Services, address: Address) -> str:
    """The Asterisk dial string of an address, from `outbound.endpoints` by address type."""
    kind = address.type or "tel"
    template = services.endpoints.get(kind)
    if template is None:
        known = ", ".join(sorted(services.endpoints)) or "none"
        raise ActionFailed(f"no outbound endpoint for address type {kind!r} (configured: {known})")
    if not address.target:
        raise ActionFailed(f"address of type {kind!r} has no target")
    return template.format(target=address.target)


def caller_id(source: Address | None, anonymous: str) -> str:
    if anonymous == "yes" or source is None:
        return "" if anonymous != "yes" else '"Anonymous" <anonymous>'
    name = source.target_name or source.name
    return f'"{name}" <{source.target}>' if name else source.target


class Leg:
    """One dialed channel: originated into our app, known by its events. Its channel id is a UUID, the
    id of the call it becomes (its activeflow's reference_id, its record in /calls)."""

    def __init__(self, ari: AriClient, endpoint: str) -> None:
        self.ari = ari
        self.endpoint = endpoint
        self.id = str(uuid.uuid4())
        self.events: EventQueue = ari.events(self.id)
        self.handle: ChannelHandle | None = None
        self.cause = 0
        self.answered = False
        self.ended = False  # its end was seen here (destroyed, or left Stasis)
        self.live: LiveCall | None = None  # its call record, when the engine has a call registry
        self.ending: LegEnding | None = None  # ... and how that record reads its end

    async def dial(self, timeout: int, caller: str) -> None:
        self.handle = await self.ari.channels.originate(self.endpoint, channel_id=self.id, timeout=timeout,
                                                        caller_id=caller, formats="ulaw")

    async def wait_answer(self) -> bool:
        """True once the leg is in Stasis (answered); False when it ends first."""
        while True:
            event = await self.events.get()
            if isinstance(event, StasisStart):
                self.answered = True
                return True
            if isinstance(event, ChannelDestroyed):
                self.cause = event.cause
                self.ended = True
                return False

    async def wait_gone(self) -> None:
        while True:
            event = await self.events.get()
            if isinstance(event, ChannelDestroyed):
                self.cause = event.cause
                self.ended = True
                return
            if isinstance(event, StasisEnd):
                self.ended = True
                return

    async def close(self) -> None:
        self.events.close()
        if self.handle is not None:
            with contextlib.suppress(AriError):
                await self.handle.hangup()

    async def drop(self) -> None:
        """Hangs the leg up as ours: its record ends by `local` (`cancel` if never answered)."""
        if self.live is not None and not self.ended and not self.live.gone.is_set():
            self.live.local_hangup = True
            if self.ending is not None:
                self.ending.dropped = True
        await self.close()


def record_address(address: Address | None) -> RecordAddress:
    """A flow option's address as a call record keeps it (`tel` when no type is given)."""
    if address is None:
        return RecordAddress()
    return RecordAddress(type=address.type or "tel", target=address.target, target_name=address.target_name,
                         name=address.name, detail=address.detail)


async def dial_leg(services: Services, leg: Leg, caller: str, *, source: Address | None,
                   destination: Address | None, flow_id: str = "", master_call_id: str = "") -> None:
    """Dials `leg`. With the engine's call registry it is a call record from the dial on (`leg.live`),
    chained to `master_call_id` when given; without one, it is only dialled."""
    registry = services.calls
    if registry is None:
        await leg.dial(services.dial_timeout_s, caller)
        return

    async def origination() -> ChannelHandle:
        await leg.dial(services.dial_timeout_s, caller)
        assert leg.handle is not None
        return leg.handle

    leg.ending = LegEnding(services.dial_timeout_s)
    leg.live = await registry.dial(current_customer(), leg.id, origination, flow_id=flow_id,
                                   source=record_address(source), destination=record_address(destination),
                                   verdict=leg.ending, master_call_id=master_call_id)


@contextlib.contextmanager
def watch_left(ari: AriClient, bridge: BridgeHandle, channel_id: str) -> Iterator[asyncio.Future[None]]:
    """A future done once `channel_id` leaves `bridge` (or is destroyed); watched from before it joins,
    so a room torn down right after the join is not missed."""
    gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_event(event: Event) -> None:
        left = isinstance(event, ChannelLeftBridge) and event.bridge.id == bridge.id
        if (left or isinstance(event, ChannelDestroyed)) and not gone.done():
            gone.set_result(None)

    sub = ari.subscribe(on_event, channel_id=channel_id)
    try:
        yield gone
    finally:
        sub.close()
        gone.cancel()


# A call that cannot join its room must not go on as if it had talked there (VoIPBIN moves on after
# call-manager actions): the failure ends the activeflow, with the reason on it.
@executor("confbridge_join", on_error="stop")
async def confbridge_join(ctx: ActionContext, opts: opt.ConfbridgeJoinOptions) -> None:
    """Joins the room `confbridge_id` (a mixing bridge, made on the first join; an AI call's confbridge
    is its room with the caller) until the call leaves it."""
    ari = ctx.services.need_ari()
    call = ctx.call
    bridge, made = await call.until_hangup(ari.bridges.ensure(opts.confbridge_id))
    log.info("joining room %s (%s)", bridge.id, "new" if made else "existing")
    try:
        await answer_if_needed(ctx)
        with watch_left(ari, bridge, call.channel.id) as gone:
            await call.until_hangup(bridge.add(call.channel.id))
            await call.until_hangup(gone)
    finally:
        await cleanup(_release_room(bridge, call.channel.id))


async def _release_room(bridge: BridgeHandle, leaving: str) -> None:
    """A room nobody else is in is destroyed, so rooms made on demand do not pile up."""
    try:
        if not set((await bridge.refresh()).channels) - {leaving}:
            await bridge.destroy()
    except AriError as exc:
        log.debug("releasing room %s: %s", bridge.id, exc)


@executor("connect")
async def connect(ctx: ActionContext, opts: opt.ConnectOptions) -> None:
    ari = ctx.services.need_ari()
    call = ctx.call
    endpoints = [endpoint_for(ctx.services, d) for d in opts.destinations]
    legs = [Leg(ari, e) for e in endpoints]
    bridge = await ari.bridges.create("mixing", name=f"connect-{ctx.action.id}")
    try:
        if call.channel.snapshot.state != "Up":
            await call.until_hangup(call.channel.ring())
        cid = caller_id(opts.source, opts.anonymous)
        for leg, destination in zip(legs, opts.destinations, strict=True):
            await dial_leg(ctx.services, leg, cid, source=opts.source, destination=destination,
                           master_call_id=call.id)
        winner = await call.until_hangup(_first_answer(legs))
        for leg in legs:
            if leg is not winner:
                await leg.drop()
        if winner is None:
            causes = ", ".join(f"{leg.endpoint}: {leg.cause}" for leg in legs)
            if opts.relay_reason:
                cause = legs[0].cause
                ctx.stop(f"connect: no destination answered ({causes}); hangup relayed")  # before the hangup: see below
                await call.channel.hangup(CAUSE_REASONS.get(cause, "normal"))
                return
            raise ActionFailed(f"no destination answered ({causes})")
        await answer_if_needed(ctx)
        await bridge.add(call.channel.id, winner.id)
        log.info("connected to %s", winner.endpoint)
        await call.until_hangup(winner.wait_gone())
        ctx.services.hangup_reasons[winner.id] = CAUSE_REASONS.get(winner.cause, "normal")
        if opts.relay_reason:
            # the reason before the hangup: its event can end the call, and cancel us, before its DELETE returns
            ctx.stop(f"connect: {winner.endpoint} hung up (cause {winner.cause}); hangup relayed")
            await call.channel.hangup(CAUSE_REASONS.get(winner.cause, "normal"))
    finally:
        await cleanup(_release_connect(legs, bridge))


async def _release_connect(legs: list[Leg], bridge: BridgeHandle) -> None:
    for leg in legs:
        await leg.drop()
    await bridge.destroy()


async def _first_answer(legs: list[Leg]) -> Leg | None:
    waits = {asyncio.ensure_future(leg.wait_answer()): leg for leg in legs}
    try:
        while waits:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                leg = waits.pop(task)
                if task.result():
                    return leg
        return None
    finally:
        for task in waits:
            task.cancel()


@executor("call")
async def call(ctx: ActionContext, opts: opt.CallOptions) -> None:
    services = ctx.services
    if opts.early_execution:
        raise ActionFailed("early_execution is not supported: flows of new calls start when they answer")
    if opts.flow_id:
        flow = services.flows.get_flow(opts.flow_id) if services.flows else None
        if flow is None:
            raise ActionFailed(f"flow {opts.flow_id!r} not found")
    elif opts.actions:
        from flowengine.flow.loader import load_actions

        flow = Flow(id="", name=f"call-{ctx.action.id}", actions=load_actions(opts.actions, name="call.actions"))
    else:
        raise ActionFailed("call needs flow_id or actions")
    if services.dial_flow is None:
        raise ActionFailed("call needs the engine's flow service")
    cid = caller_id(opts.source, opts.anonymous)
    for destination in opts.destinations:
        endpoint = endpoint_for(services, destination)
        await services.dial_flow(endpoint, flow, caller=cid, target=destination, source=opts.source,
                                 master=ctx.runner if opts.chained else None)

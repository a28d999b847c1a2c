"""Executors that join calls together: confbridge_join, connect (dial and bridge), call (new calls)."""
from __future__ import annotations

import asyncio
import logging
import uuid

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

log = logging.getLogger(__name__)

# Q.850 cause -> the ARI hangup reason that relays it
CAUSE_REASONS = {16: "normal", 17: "busy", 18: "no_answer", 19: "no_answer", 21: "rejected", 1: "unallocated",
                 34: "congestion", 38: "congestion", 41: "failure", 31: "normal_unspecified"}


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
                return False

    async def wait_gone(self) -> None:
        while True:
            event = await self.events.get()
            if isinstance(event, ChannelDestroyed):
                self.cause = event.cause
                return
            if isinstance(event, StasisEnd):
                return

    async def close(self) -> None:
        self.events.close()
        if self.handle is not None:
            try:
                await self.handle.hangup()
            except AriError:
                pass


async def wait_left(ari: AriClient, bridge: BridgeHandle, channel_id: str) -> None:
    """Until `channel_id` leaves `bridge` (or is destroyed)."""
    gone = asyncio.get_running_loop().create_future()

    def on_event(event: Event) -> None:
        left = isinstance(event, ChannelLeftBridge) and event.bridge.id == bridge.id
        if (left or isinstance(event, ChannelDestroyed)) and not gone.done():
            gone.set_result(None)

    sub = ari.subscribe(on_event, channel_id=channel_id)
    try:
        await gone
    finally:
        sub.close()


@executor("confbridge_join")
async def confbridge_join(ctx: ActionContext, opts: opt.ConfbridgeJoinOptions) -> None:
    ari = ctx.services.need_ari()
    call = ctx.call
    bridge = await ari.bridges.create("mixing", bridge_id=opts.confbridge_id)
    try:
        await answer_if_needed(ctx)
        await call.until_hangup(bridge.add(call.channel.id))
        await call.until_hangup(wait_left(ari, bridge, call.channel.id))
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
        for leg in legs:
            await leg.dial(ctx.services.dial_timeout_s, cid)
        winner = await call.until_hangup(_first_answer(legs))
        for leg in legs:
            if leg is not winner:
                await leg.close()
        if winner is None:
            causes = ", ".join(f"{leg.endpoint}: {leg.cause}" for leg in legs)
            if opts.relay_reason:
                cause = legs[0].cause
                await call.channel.hangup(CAUSE_REASONS.get(cause, "normal"))
                ctx.stop(f"connect: no destination answered ({causes}); hangup relayed")
                return
            raise ActionFailed(f"no destination answered ({causes})")
        await answer_if_needed(ctx)
        await bridge.add(call.channel.id, winner.id)
        log.info("connected to %s", winner.endpoint)
        await call.until_hangup(winner.wait_gone())
        ctx.services.hangup_reasons[winner.id] = CAUSE_REASONS.get(winner.cause, "normal")
        if opts.relay_reason:
            await call.channel.hangup(CAUSE_REASONS.get(winner.cause, "normal"))
            ctx.stop(f"connect: {winner.endpoint} hung up (cause {winner.cause}); hangup relayed")
    finally:
        await cleanup(_release_connect(legs, bridge))


async def _release_connect(legs: list[Leg], bridge: BridgeHandle) -> None:
    for leg in legs:
        await leg.close()
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
        await services.dial_flow(endpoint, flow, caller=cid, target=destination,
                                 master=ctx.runner if opts.chained else None)

"""The ARI application: turns StasisStart of real callers into owned call tasks; ignores our helpers."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.events import ChannelDestroyed, ChannelHangupRequest, Event, StasisEnd, StasisStart
from flowengine.asterisk.ari.handles import ChannelHandle
from flowengine.asterisk.ari.models import Bridge, Channel
from flowengine.asterisk.ari.rest import AriError
from flowengine.asterisk.routing import Route, RouteTable, StasisArgsError, parse_stasis_args
from flowengine.logs import log_context
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)
T = TypeVar("T")


class CallEnded(Exception):
    """The caller hung up (or Asterisk lost the channel) while an action was waiting."""


@dataclass
class Call:
    """One caller in our ARI app, from StasisStart to hangup. `id` is the call's id (a UUID: its
    activeflow's reference_id, its record in /calls, its events); `channel.id` is the Asterisk channel,
    for ARI only. Channels the engine dials itself are given the call's id, so both coincide."""

    channel: ChannelHandle
    route: Route
    dialed: str
    args: dict[str, str]
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_cause: int = 0
    hangup_cause_txt: str = ""
    # Out in the dialplan on an errand (echo...): leaving Stasis then does not end the call.
    away: bool = False
    call_id: str = ""  # minted for inbound calls, whose channel id Asterisk chose

    @property
    def id(self) -> str:
        return self.call_id or self.channel.id

    async def until_hangup(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable`, but raise CallEnded (cancelling it) as soon as the call ends."""
        if self.ended.is_set():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise CallEnded(self.id)
        work = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({work, ended}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()  # our caller was cancelled: the work it started goes with it
            await asyncio.gather(work, return_exceptions=True)
            raise
        finally:
            ended.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, AriError):
            await work
        raise CallEnded(self.id)


CallHandler = Callable[[Call], Awaitable[None]]


class AriApp:
    """Runs `handler(call)` in its own task for every caller entering the Stasis app.

    Channels flowengine created (externalMedia, snoop, originated legs) raise StasisStart too;
    they are recognised and left to whoever created them.
    """

    def __init__(self, client: AriClient, routes: RouteTable, handler: CallHandler) -> None:
        self.client = client
        self.routes = routes
        self.handler = handler
        self.calls: dict[str, Call] = {}
        self._tasks = TaskOwner("ARI app")  # one task per caller (and per refused call)
        self._subs = [
            client.subscribe(self._on_start, event_type="StasisStart"),
            client.subscribe(self._on_gone, event_type="StasisEnd"),
            client.subscribe(self._on_gone, event_type="ChannelDestroyed"),
            client.subscribe(self._on_hangup_request, event_type="ChannelHangupRequest"),
        ]
        client.on_resync(self._resync)
        self.calls_started = 0
        self.helpers_ignored = 0

    def _on_start(self, event: Event) -> None:
        assert isinstance(event, StasisStart)
        channel = event.channel
        if self.client.is_owned(channel):
            self.helpers_ignored += 1
            log.debug("StasisStart of our own channel %s ignored as a caller", channel.name)
            return
        if channel.id in self.calls:
            return
        try:
            args = parse_stasis_args(event.args)
        except StasisArgsError as exc:
            log.error("call %s refused: %s", channel.id, exc)
            self._tasks.start(self._refuse(channel, str(exc)), name=f"refuse-{channel.id}")
            return
        route = self.routes.resolve(channel.dialplan.exten, args)
        call = Call(ChannelHandle(self.client, channel.id, channel), route, channel.dialplan.exten, args,
                    call_id=str(uuid.uuid4()))
        self.calls[channel.id] = call
        self.calls_started += 1
        self._tasks.start(self._run(call), name=f"call-{channel.id}")

    async def _refuse(self, channel: Channel, reason: str) -> None:
        try:
            await ChannelHandle(self.client, channel.id, channel).hangup("failure")
        except AriError as exc:
            log.warning("hangup of refused call %s failed: %s", channel.id, exc)

    def _on_gone(self, event: Event) -> None:
        assert isinstance(event, (StasisEnd, ChannelDestroyed))
        call = self.calls.get(event.channel.id)
        if call is None:
            return
        if isinstance(event, ChannelDestroyed):
            call.hangup_cause, call.hangup_cause_txt = event.cause, event.cause_txt
        elif call.away:
            return
        call.ended.set()

    def _on_hangup_request(self, event: Event) -> None:
        """The far end hung up (a hard request; ours and redirects are soft): the call has ended now, not when
        StasisEnd follows. Asterisk reports it before what the hangup stops (PlaybackFinished...), so an action
        that ends because of the hangup is never taken for one that finished and the flow does not go on."""
        assert isinstance(event, ChannelHangupRequest)
        call = self.calls.get(event.channel.id)
        if call is None or event.soft or call.away:
            return
        call.ended.set()

    async def _run(self, call: Call) -> None:
        with log_context(call_id=call.id):
            call.route = await self.routes.lookup(call.dialed, call.args)  # the API's numbers are in the store
            log.info("call from %r to %r on channel %s: flow %r (%s) of customer %s",
                     call.channel.snapshot.caller.number, call.dialed, call.channel.id, call.route.flow_id,
                     call.route.reason, call.route.customer_id)
            try:
                await self.handler(call)
            except CallEnded:
                log.info("caller hung up")
            except Exception:
                log.exception("call handler failed")
            finally:
                if not call.ended.is_set():
                    try:
                        await asyncio.shield(call.channel.hangup())
                    except AriError as exc:
                        log.debug("hangup after handler: %s", exc)
                self.calls.pop(call.channel.id, None)
                log.info("call ended%s", f" ({call.hangup_cause} {call.hangup_cause_txt})" if call.hangup_cause else "")

    async def _resync(self, channels: list[Channel], bridges: list[Bridge]) -> None:
        """After a reconnect: calls whose channel no longer exists have ended."""
        live = {c.id for c in channels}
        for channel_id, call in list(self.calls.items()):
            if channel_id not in live:
                log.warning("call %s vanished while ARI was disconnected", call.id)
                call.hangup_cause_txt = "lost with Asterisk"
                call.ended.set()

    @property
    def active_tasks(self) -> int:
        return len(self._tasks)

    async def aclose(self, hangup: bool = True) -> None:
        """Stop taking calls; hang up the ones in progress and wait for their tasks."""
        for sub in self._subs:
            sub.close()
        if hangup:
            for call in list(self.calls.values()):
                if not call.ended.is_set():
                    with contextlib.suppress(AriError):
                        await call.channel.hangup()
                    call.ended.set()
        await self._tasks.aclose()

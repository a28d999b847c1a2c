"""Activeflows of the engine: started for calls and on request, tracked by id, paused, resumed, stopped."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flowengine.asterisk.app import Call
from flowengine.asterisk.ari.events import ChannelDestroyed, StasisEnd
from flowengine.asterisk.routing import Route
from flowengine.flow import actions  # noqa: F401  (registers the executors)
from flowengine.flow import varnames as v
from flowengine.flow.actions.bridging import CAUSE_REASONS, Leg, dial_leg
from flowengine.flow.activeflow import Activeflow, ReferenceType
from flowengine.flow.context import Services, ServicesLink
from flowengine.flow.external import sanitize_external
from flowengine.flow.ids import EMPTY_ID
from flowengine.flow.model import Flow
from flowengine.flow.options.common import Address
from flowengine.flow.runner import Runner
from flowengine.flow.variables import Variables, seed_variables
from flowengine.tasks import TaskOwner
from flowengine.tenancy import ENGINE_CUSTOMER_ID, acting_for

log = logging.getLogger(__name__)


class FlowNotFound(LookupError):
    """No flow has that id."""


class ActiveflowNotFound(LookupError):
    """No running activeflow has that id."""


def call_variables(call: Call) -> dict[str, Any]:
    """`voipbin.call.*` of an inbound call, from its channel."""
    snap = call.channel.snapshot
    values: dict[str, Any] = {
        v.CALL_ID: call.id, v.CALL_DIRECTION: "incoming", v.CALL_MASTER_CALL_ID: "", v.CALL_DIGITS: "",
    }
    source = {"type": "tel", "target": snap.caller.number, "target_name": snap.caller.name,
              "name": snap.caller.name, "detail": ""}
    destination = {"type": "tel", "target": call.dialed, "target_name": "", "name": "", "detail": ""}
    for name in v.CALL_SOURCE:
        values[name] = source[name.rsplit(".", 1)[1]]
    for name in v.CALL_DESTINATION:
        values[name] = destination[name.rsplit(".", 1)[1]]
    return values


class FlowService:
    """Starts and tracks activeflows. `handle_call` is the ARI app's call handler.

    Its runners get `services`, whose `start_flow` and `dial_flow` are usually this service's own: the
    engine builds it on a `ServicesLink` and binds the link once Services is built with them."""

    def __init__(self, services: Services | ServicesLink) -> None:
        self._services = services if isinstance(services, ServicesLink) else ServicesLink(services)
        self.runners: dict[str, Runner] = {}
        self._tasks = TaskOwner("flow service")  # activeflows started in the background, dialed calls' flows

    @property
    def services(self) -> Services:
        return self._services.get()

    def get_flow(self, flow_id: str) -> Flow:
        flow = self.services.flows.get_flow(flow_id) if self.services.flows else None
        if flow is None:
            raise FlowNotFound(f"flow {flow_id!r} not found")
        return flow

    def create(
        self,
        flow: Flow,
        *,
        reference_type: ReferenceType,
        reference_id: str = EMPTY_ID,
        call: Call | None = None,
        parent: Activeflow | None = None,
        external: Mapping[str, Any] | None = None,
        complete_count: int = 0,
        activeflow_id: str | None = None,
    ) -> Runner:
        """A runner for a new activeflow of `flow`. `external` variables come from users (API,
        campaign lists) and are checked (`ExternalVariablesError` lists every problem)."""
        af = Activeflow.for_flow(
            flow, reference_type=reference_type, reference_id=reference_id, activeflow_id=activeflow_id,
            reference_activeflow_id=parent.id if parent else EMPTY_ID)
        builtins = {
            v.ACTIVEFLOW_ID: af.id, v.ACTIVEFLOW_REFERENCE_TYPE: str(af.reference_type),
            v.ACTIVEFLOW_REFERENCE_ID: af.reference_id, v.ACTIVEFLOW_REFERENCE_ACTIVEFLOW_ID: af.reference_activeflow_id,
            v.ACTIVEFLOW_FLOW_ID: af.flow_id, v.ACTIVEFLOW_COMPLETE_COUNT: complete_count,
        }
        parent_vars = parent.variables if parent else None
        checked = sanitize_external(external) if external else {}
        variables: Variables = seed_variables(builtins={**(call_variables(call) if call else {}), **builtins},
                                              parent=parent_vars, external=checked, defaults=flow.variables,
                                              dynamic={v.FLOW_REFERENCE_DATA: lambda: self._reference_data(af)})
        af.variables = variables.snapshot()
        runner = Runner(af, self.services, call=call, variables=variables)
        self.runners[af.id] = runner
        return runner

    def _reference_data(self, af: Activeflow) -> str:
        """The JSON of the webhook object of the activeflow's call (the engine has no conversations)."""
        calls = self.services.calls
        if af.reference_type != ReferenceType.CALL or calls is None:
            return ""
        return calls.reference_data(af.reference_id)

    async def run(self, runner: Runner) -> Activeflow:
        try:
            return await runner.run()
        finally:
            self.runners.pop(runner.activeflow.id, None)

    async def start_flow(
        self,
        flow_id: str,
        *,
        reference_type: ReferenceType = ReferenceType.API,
        reference_id: str = EMPTY_ID,
        parent: Activeflow | None = None,
        complete_count: int = 0,
        call: Call | None = None,
        external: Mapping[str, Any] | None = None,
    ) -> Runner:
        """Start an activeflow in the background (API, on_complete); its task is owned here."""
        runner = self.create(self.get_flow(flow_id), reference_type=reference_type, reference_id=reference_id,
                             call=call, parent=parent, external=external, complete_count=complete_count)
        self._tasks.start(self.run(runner), name=f"activeflow-{runner.activeflow.id}")
        return runner

    async def handle_call(self, call: Call) -> None:
        """Run the call's routed flow until the activeflow ends (the call is hung up then), as the route's
        customer: the flow is one of theirs (the engine's files too for the engine's customer), and the call
        record, the activeflow and the AI calls the flow starts are theirs."""
        with acting_for(call.route.customer_id):
            await self._handle_call(call)

    async def _handle_call(self, call: Call) -> None:
        flow_id = call.route.flow_id
        if not flow_id:
            log.error("no flow for number %r and no default flow: refusing the call", call.dialed)
            await call.channel.hangup("unallocated")
            return
        try:
            flow = self._routed_flow(call.route)
        except FlowNotFound as exc:
            log.error("%s: refusing the call", exc)
            await call.channel.hangup("failure")
            return
        runner = self.create(flow, reference_type=ReferenceType.CALL, reference_id=call.id, call=call)
        runner.activeflow.customer_id = call.route.customer_id
        try:
            af = await self.run(runner)
        finally:
            self.services.hangup_reasons[call.id] = call.hangup_cause_txt or "normal"
        log.info("call flow %s ended: %s", flow_id, af.ended_reason)

    def _routed_flow(self, route: Route) -> Flow:
        """The customer's flow; a route of the config may also name a flow of the engine's files."""
        try:
            return self.get_flow(route.flow_id)
        except FlowNotFound:
            if not route.from_config or route.customer_id == ENGINE_CUSTOMER_ID:
                raise
        with acting_for(ENGINE_CUSTOMER_ID):
            return self.get_flow(route.flow_id)

    async def dial_flow(self, endpoint: str, flow: Flow, *, caller: str = "", target: Address | None = None,
                        source: Address | None = None, master: Runner | None = None) -> None:
        """Dial `endpoint` and run `flow` on the call once it answers (in the background). With the engine's
        call registry the call is recorded from the dial on, chained to `master`'s call (a call whose flow
        hangs it up when it ends)."""
        ari = self.services.need_ari()
        leg = Leg(ari, endpoint)
        master_call_id = master.call.id if master is not None and master.call is not None else ""
        await dial_leg(self.services, leg, caller, source=source, destination=target, flow_id=flow.id or "",
                       master_call_id=master_call_id)
        if master is not None:
            master.on_end(leg.drop)
        self._tasks.start(self._run_dialed(leg, flow, target, master), name=f"dialed-{leg.id}")

    async def _run_dialed(self, leg: Leg, flow: Flow, target: Address | None, master: Runner | None) -> Activeflow:
        try:
            if not await leg.wait_answer():
                log.info("call to %s not answered (cause %s)", leg.endpoint, leg.cause)
                self.services.hangup_reasons[leg.id] = CAUSE_REASONS.get(leg.cause, "normal")
                return Activeflow(id=leg.id, ended_reason=f"not answered (cause {leg.cause})")
            assert leg.handle is not None
            call = Call(leg.handle, Route(flow.id or "", "call-action"), target.target if target else "", {})
            watcher = self.services.need_ari().subscribe(
                lambda e: call.ended.set() if isinstance(e, (StasisEnd, ChannelDestroyed)) else None,
                channel_id=leg.id)
            try:
                runner = self.create(flow, reference_type=ReferenceType.CALL, reference_id=call.id, call=call)
                runner.variables.update({v.CALL_DIRECTION: "outgoing",
                                         v.CALL_MASTER_CALL_ID: master.call.id if master and master.call else ""})
                if leg.live is not None and self.services.calls is not None:
                    if leg.live.gone.is_set():  # hung up between answer and here: the watcher came too late
                        call.ended.set()
                    runner.activeflow.customer_id = leg.live.customer_id
                    await self.services.calls.attach(leg.live, runner)  # its record, not a second one
                return await self.run(runner)
            finally:
                watcher.close()
        finally:
            await leg.close()

    def runner(self, activeflow_id: str) -> Runner:
        try:
            return self.runners[activeflow_id]
        except KeyError:
            raise ActiveflowNotFound(f"activeflow {activeflow_id!r} is not running") from None

    async def pause(self, activeflow_id: str) -> None:
        await self.runner(activeflow_id).pause()

    async def resume(self, activeflow_id: str) -> None:
        await self.runner(activeflow_id).resume()

    def stop(self, activeflow_id: str, reason: str = "stopped by request") -> None:
        self.runner(activeflow_id).request_stop(reason)

    async def aclose(self) -> None:
        """Stops every activeflow; those this service started get 10 s to end before they are cancelled."""
        for runner in list(self.runners.values()):
            runner.request_stop("engine stopping")
        await self._tasks.aclose(timeout=10)


"""AI calls and summaries a stopped engine left open: terminated, and written, when the engine starts again."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Container
from typing import Any

from flowengine.ai.aicall import AICallService
from flowengine.ai.endreasons import SERVER_SHUTDOWN
from flowengine.ai.events import AICallEvents
from flowengine.ai.postcall.summary import Summaries
from flowengine.events import EventBus
from flowengine.flow.activeflow import Activeflow
from flowengine.flow.context import StartFlow
from flowengine.flow.ids import is_unset
from flowengine.store import AIcall, NotFoundError, Store, Summary
from flowengine.store.aicalls import LIVE_STATUSES
from flowengine.store.nodes import EVERY_NODE, LOST_PREFIX, Owners
from flowengine.tasks import TaskOwner
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)

ENGINE_STOPPED = SERVER_SHUTDOWN
"""The ended_reason of an AI call whose engine stopped under it: Vapi's `server-shutdown` (ended_reason takes
Vapi's endedReason values, flowengine.ai.endreasons)."""


async def terminate_stale_aicalls(store: Store, events: EventBus, known: Container[str] = (),
                                  owners: Owners = EVERY_NODE) -> list[AIcall]:
    """Terminates the AI calls of every customer still live in the store, owned by `owners` (every node's by
    default) but not among `known` (the ids the running engine has live), each announced with
    `aicall_status_terminated`. Returns those terminated. The reason stays Vapi's `server-shutdown`; a lost
    node's AI call names it in its metadata (`{"ended_detail": "node-lost:<id>"}`)."""
    publish = AICallEvents(events)
    settled: list[AIcall] = []
    for stale, owner in await store.aicalls.settling(owners, filters={"status": LIVE_STATUSES}):
        if stale.id in known:
            continue
        lost = owners.lost_node(owner)
        metadata = None if lost is None else {**stale.metadata, "ended_detail": f"{LOST_PREFIX}{lost}"}
        try:
            record, changed = await store.aicalls.terminate(stale.customer_id, stale.id, reason=ENGINE_STOPPED,
                                                            metadata=metadata)
        except NotFoundError:  # deleted meanwhile
            continue
        if changed:
            publish.status(record)
            settled.append(record)
    if settled:
        log.warning("%d AI call(s) left running by a previous engine were terminated", len(settled))
    return settled


async def finish_stale_summary(summaries: Summaries, summary: Summary,
                               start_flow: StartFlow | None) -> Summary | None:
    """Writes a summary its call's engine left `progressing` (the call went with that engine), from the stored
    transcripts and the stored variables of its activeflow, and starts its on_end flow (`Summaries.finish`)."""
    store, customer = summaries.store, summary.customer_id
    call_ids = [summary.reference_id]
    try:  # older AI calls name the call by its Asterisk channel (as POST /aisummaries reads them)
        call = await store.calls.get(customer, summary.reference_id, include_deleted=True)
        if call.channel_id and call.channel_id not in call_ids:
            call_ids.append(call.channel_id)
    except NotFoundError:
        pass
    parent: Activeflow | None = None
    variables: dict[str, Any] = {}
    if not is_unset(summary.activeflow_id):
        try:
            flow_run = await store.activeflows.get(customer, summary.activeflow_id, include_deleted=True)
            parent, variables = Activeflow(id=flow_run.id, customer_id=customer), dict(flow_run.variables)
        except NotFoundError:
            pass
    with acting_for(customer):
        return await summaries.finish(summary, call_ids=call_ids, variables=variables, start_flow=start_flow,
                                      parent=parent)


class AIRecovery:
    """Settles what a previous run left open, once at start-up before calls are taken: `start` terminates its
    AI calls and lists its `progressing` summaries, which a task owned here then writes (a model call each, so
    start-up does not wait); `aclose` cancels that task, leaving unwritten summaries for the next start."""

    def __init__(self, store: Store, events: EventBus, service: AICallService,
                 start_flow: StartFlow | None) -> None:
        self.store = store
        self.events = events
        self.service = service
        self.start_flow = start_flow
        self.task: asyncio.Task[list[Summary]] | None = None  # writing the stale summaries
        self._tasks = TaskOwner("AI recovery")

    async def start(self, owners: Owners = EVERY_NODE) -> list[AIcall]:
        """Terminates the stale AI calls of `owners` (returned) and starts writing the stale summaries of their
        calls. Again for each lost node: a pass whose summaries are still being written leaves the new ones to
        the next pass."""
        terminated = await terminate_stale_aicalls(self.store, self.events, known=self.service.live, owners=owners)
        if self.task is not None and not self.task.done():
            return terminated
        stale = await self.store.summaries.of_every_customer(filters={"status": "progressing"})
        if owners.nodes is not None or owners.spare:  # only summaries of the calls of those nodes
            callers = await self.store.calls.owners([s.reference_id for s in stale])
            stale = [s for s in stale if owners.takes(callers.get(s.reference_id, ""))]
        if stale:
            log.warning("%d AI summary(ies) left progressing by a stopped engine: writing them now", len(stale))
            self.task = self._tasks.start(self._write(stale), name="stale summaries")
        return terminated

    async def _write(self, stale: list[Summary]) -> list[Summary]:
        summaries = Summaries.of(self.service, self.store, self.events)
        written: list[Summary] = []
        for summary in stale:
            try:
                done = await finish_stale_summary(summaries, summary, self.start_flow)
            except Exception:  # one summary's failure (the store, a flow) leaves the others to be written
                log.exception("ai_summary %s left by a previous engine was not written", summary.id)
                continue
            if done is not None:
                written.append(done)
        return written

    async def written(self) -> list[Summary]:
        """The summaries written, once all are (none if there were none, or if it was cancelled)."""
        task = self.task
        if task is None:
            return []
        await asyncio.wait([task])
        return task.result() if not task.cancelled() else []

    async def aclose(self) -> None:
        await self._tasks.aclose()

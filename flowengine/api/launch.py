"""Starting engine work for a customer from the API: activeflows of stored or inline flows, owned tasks."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, unavailable
from flowengine.api.flows import FlowBody, checked_fields
from flowengine.api.sources import flow_document
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.model import Flow as FlowDoc
from flowengine.flow.runner import Runner
from flowengine.store import NIL_ID, Flow
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)


class TaskSet:
    """The tasks the API started (activeflows, calls); closed with the app."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def aclose(self, timeout: float = 10.0) -> None:
        tasks = list(self.tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for task in tasks:
            task.cancel()


async def resolve_flow(deps: ApiDeps, customer: str, flow_id: str | None,
                       actions: list[dict[str, Any]] | None) -> FlowDoc:
    """The customer's stored flow, or a temporary stored flow (persist=False) of inline actions."""
    if flow_id and flow_id != NIL_ID:
        if deps.resources is None:
            raise unavailable("this engine runs no flows")
        return await deps.resources.load_flow(customer, flow_id)
    if not actions:
        raise bad_request("give flow_id or a non-empty actions list", "flow_id")
    fields = checked_fields(FlowBody(name="inline", detail="actions of an API request", actions=actions))
    record = await deps.store.flows.create(Flow(customer_id=customer, persist=False, **fields))
    if deps.resources is not None:
        deps.resources.put_flow(record)
    return flow_document(record)


def start_activeflow(deps: ApiDeps, tasks: TaskSet, customer: str, flow: FlowDoc, *,
                     variables: Mapping[str, Any] | None = None, activeflow_id: str | None = None) -> Runner:
    """Creates the activeflow (reference `api`) and runs it in the background for `customer`."""
    service = deps.flow_service()
    with acting_for(customer):
        runner = service.create(flow, reference_type=ReferenceType.API, external=variables or None,
                                activeflow_id=activeflow_id)
        runner.activeflow.customer_id = customer
        tasks.start(service.run(runner))
    return runner

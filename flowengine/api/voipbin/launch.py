"""Starting engine work for a customer from the API: activeflows of stored or inline flows, owned tasks."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flowengine.ai.sources import flow_document
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, unavailable
from flowengine.api.voipbin.flows import FlowBody, checked_fields
from flowengine.flow.activeflow import ReferenceType
from flowengine.flow.model import Flow as FlowDoc
from flowengine.flow.runner import Runner
from flowengine.store import NIL_ID, Flow
from flowengine.tenancy import acting_for

log = logging.getLogger(__name__)


async def resolve_flow(deps: ApiDeps, customer: str, flow_id: str | None,
                       actions: list[dict[str, Any]] | None) -> FlowDoc:
    """The customer's stored flow, or a temporary stored flow (persist=False) of inline actions."""
    if flow_id and flow_id != NIL_ID:
        if deps.resources is None:
            raise unavailable("this engine runs no flows")
        return await deps.resources.load_flow(customer, flow_id)
    if not actions:
        raise bad_request("give flow_id or a non-empty actions list", "flow_id")
    fields = await checked_fields(FlowBody(name="inline", detail="actions of an API request", actions=actions),
                                  customer, deps)
    record = await deps.store.flows.create(Flow(customer_id=customer, persist=False, **fields))
    if deps.resources is not None:
        deps.resources.put_flow(record)
    return flow_document(record)


def start_activeflow(deps: ApiDeps, customer: str, flow: FlowDoc, *,
                     variables: Mapping[str, Any] | None = None, activeflow_id: str | None = None) -> Runner:
    """Creates the activeflow (reference `api`) and runs it in the background for `customer`."""
    service = deps.flow_service()
    with acting_for(customer):
        runner = service.create(flow, reference_type=ReferenceType.API, external=variables or None,
                                activeflow_id=activeflow_id)
        runner.activeflow.customer_id = customer
        deps.tasks.start(service.run(runner), name=f"activeflow-{runner.activeflow.id}")
    return runner

"""/v1.0/flows: stored flow documents of a customer, checked by the flow rules before they are kept."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from flowengine.ai.names import customer_ai_names
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.flow.ainames import named_agents
from flowengine.flow.catalogue import ACTIONS
from flowengine.flow.loader import load_data
from flowengine.flow.model import FlowType
from flowengine.store import NIL_ID, Flow
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/flows", tags=["Flow"])
FlowView = view_model(Flow, "FlowManagerFlow", exclude=("persist",))


class FlowBody(Body):
    name: str = Field(max_length=255)
    detail: str = Field("", max_length=4096)
    type: FlowType = "flow"
    actions: list[dict[str, Any]] = Field(max_length=1000)
    variables: dict[str, Any] = Field(default_factory=dict)
    on_complete_flow_id: str = NIL_ID


def flow_view(flow: Flow) -> dict[str, Any]:
    return view(flow, exclude=("persist",))


async def checked_fields(body: FlowBody, customer: str, deps: ApiDeps) -> dict[str, Any]:
    """The flow fields to store, after the flow rules (FlowValidationError names each bad field); the AIs and
    teams it names must be the customer's, as the engine finds them when the flow runs."""
    doc: dict[str, Any] = {"name": body.name, "detail": body.detail, "type": body.type or "flow",
                           "variables": body.variables, "actions": body.actions}
    if body.on_complete_flow_id and body.on_complete_flow_id != NIL_ID:
        doc["on_complete_flow_id"] = body.on_complete_flow_id
    aicalls = deps.engine.aicalls if deps.engine is not None else None
    names = await customer_ai_names(
        deps.store, customer, named_agents(body.actions, ACTIONS),
        files=deps.resources.files_ais if deps.resources is not None else None,
        teams=aicalls.teams if aicalls is not None else None)
    flow = load_data(doc, ai_names=names).flow
    return {
        "name": body.name, "detail": body.detail, "type": body.type or "flow", "variables": flow.variables,
        "actions": [a.model_dump(mode="json", exclude_none=True) for a in flow.actions],
        "on_complete_flow_id": flow.on_complete_flow_id or NIL_ID,
    }


@router.get("", response_model=PageOut[FlowView])  # type: ignore[valid-type]
async def list_flows(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.flows.list_page(customer, page_size=paging.page_size, page_token=paging.page_token,
                                            filters={"persist": True})
    return page_out(page, flow_view)


@router.post("", response_model=FlowView)
async def create_flow(customer: CustomerId, deps: Deps, body: FlowBody) -> dict[str, Any]:
    flow = await deps.store.flows.create(Flow(customer_id=customer, **(await checked_fields(body, customer, deps))))
    if deps.resources is not None:
        deps.resources.put_flow(flow)
    deps.events.emit("flow_created", customer, flow_view(flow))  # internal (webhooks do not carry flow_*)
    return flow_view(flow)


@router.get("/{id}", response_model=FlowView)
async def get_flow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return flow_view(await deps.store.flows.get(customer, id))


@router.put("/{id}", response_model=FlowView)
async def update_flow(customer: CustomerId, deps: Deps, id: ResourceId, body: FlowBody) -> dict[str, Any]:
    await deps.store.flows.get(customer, id)  # 404 before the body is judged
    flow = await deps.store.flows.update(customer, id, **(await checked_fields(body, customer, deps)))
    if deps.resources is not None:
        deps.resources.put_flow(flow)
    deps.events.emit("flow_updated", customer, flow_view(flow))
    return flow_view(flow)


@router.delete("/{id}", response_model=FlowView)
async def delete_flow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    flow = await deps.store.flows.delete(customer, id)
    if deps.resources is not None:
        deps.resources.drop(flow.id)
    deps.events.emit("flow_deleted", customer, flow_view(flow))
    return flow_view(flow)

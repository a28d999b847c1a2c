"""/v1.0/activeflows: runs of flows started by the API (executed at once), and control of running ones."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import func, select

from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import ApiError, conflict
from flowengine.api.forwarding import live_operation
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.api.voipbin.launch import resolve_flow, start_activeflow
from flowengine.flow.runner import Runner
from flowengine.flow.service import ActiveflowNotFound
from flowengine.store import Activeflow
from flowengine.store.activeflows import activeflows
from flowengine.store.records import UuidStr, WebhookMethod
from flowengine.store.views import ACTIVEFLOW_HIDDEN, activeflow_view, view_model

router = APIRouter(prefix="/activeflows", tags=["Activeflow"])
ActiveflowView = view_model(Activeflow, "FlowManagerActiveflow", exclude=ACTIVEFLOW_HIDDEN)


class ActiveflowBody(Body):
    id: UuidStr | None = None
    flow_id: UuidStr | None = None
    actions: list[dict[str, Any]] | None = Field(None, max_length=1000)
    variables: dict[str, str] = Field(default_factory=dict)
    webhook_uri: str = Field("", max_length=2048, pattern=r"^(https?://\S+)?$")
    webhook_method: WebhookMethod = ""


def live_view(runner: Runner, webhook_uri: str = "", webhook_method: str = "") -> dict[str, Any]:
    data = runner.activeflow.public_view()
    data.update(webhook_uri=webhook_uri, webhook_method=webhook_method)
    data["status"] = str(data["status"])
    data["reference_type"] = str(data["reference_type"])
    data["flow_id"] = data["flow_id"] or "00000000-0000-0000-0000-000000000000"
    data["on_complete_flow_id"] = data["on_complete_flow_id"] or "00000000-0000-0000-0000-000000000000"
    return data


@router.get("", response_model=PageOut[ActiveflowView])  # type: ignore[valid-type]
async def list_activeflows(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.activeflows.list_page(customer, page_size=paging.page_size,
                                                  page_token=paging.page_token)
    return page_out(page, activeflow_view)


@router.post("", response_model=ActiveflowView)
async def create_activeflow(customer: CustomerId, deps: Deps, body: ActiveflowBody) -> dict[str, Any]:
    if body.id is not None:
        async with deps.store.db.read() as conn:  # ids are global: any customer's row takes it
            taken = await conn.scalar(select(func.count()).select_from(activeflows)
                                      .where(activeflows.c.id == body.id))
        if taken:
            raise ApiError("ALREADY_EXISTS", f"activeflow id {body.id} is taken", field="id")
    deps.flow_service()  # 503 before anything is stored when the engine runs no flows
    flow = await resolve_flow(deps, customer, body.flow_id, body.actions)
    runner = start_activeflow(deps, customer, flow, variables=body.variables, activeflow_id=body.id)
    if body.webhook_uri and deps.webhooks is not None:
        deps.webhooks.activeflow_hooks[runner.activeflow.id] = (body.webhook_uri, body.webhook_method or "POST")
    return live_view(runner, body.webhook_uri, body.webhook_method)


@router.get("/{id}", response_model=ActiveflowView)
async def get_activeflow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return activeflow_view(await deps.store.activeflows.get(customer, id))


def _runner(deps: ApiDeps, id: str) -> Runner | None:
    engine = deps.engine
    if engine is None or engine.flow_service is None:
        return None
    try:
        return engine.flow_service.runner(id)
    except ActiveflowNotFound:
        return None


@router.post("/{id}/stop", response_model=ActiveflowView)
async def stop_activeflow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Ends a running or paused activeflow; an ended one is returned unchanged (as VoIPBIN does)."""
    await deps.store.activeflows.get(customer, id)
    return await deps.live_op("activeflow.stop", customer, id)


@live_operation("activeflow.stop", "activeflow")
async def _stop(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    record = await deps.store.activeflows.get(customer, id)
    runner = _runner(deps, id)
    if runner is not None and record.status != "ended":
        runner.request_stop(str(args.get("reason") or "stopped by request"))
        return live_view(runner, record.webhook_uri, record.webhook_method)
    return activeflow_view(record)


@router.post("/{id}/pause", response_model=ActiveflowView)
async def pause_activeflow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.activeflows.get(customer, id)
    return await deps.live_op("activeflow.pause", customer, id)


@live_operation("activeflow.pause", "activeflow")
async def _pause(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    record = await deps.store.activeflows.get(customer, id)
    runner = _runner(deps, id)
    if runner is None or record.status != "running":
        raise conflict(f"activeflow {id} is {record.status or 'not running'} here: only a running one pauses")
    await runner.pause()
    return live_view(runner, record.webhook_uri, record.webhook_method)


@router.post("/{id}/resume", response_model=ActiveflowView)
async def resume_activeflow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.activeflows.get(customer, id)
    return await deps.live_op("activeflow.resume", customer, id)


@live_operation("activeflow.resume", "activeflow")
async def _resume(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    record = await deps.store.activeflows.get(customer, id)
    runner = _runner(deps, id)
    if runner is None or record.status != "paused":
        raise conflict(f"activeflow {id} is {record.status or 'not running'}: only a paused one resumes")
    await runner.resume()
    return live_view(runner, record.webhook_uri, record.webhook_method)


@router.delete("/{id}", response_model=ActiveflowView)
async def delete_activeflow(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Stops it if it runs, then deletes it (soft)."""
    record = await deps.store.activeflows.get(customer, id)
    if record.status != "ended":
        await deps.live_op("activeflow.stop", customer, id, {"reason": "deleted by request"})
    return activeflow_view(await deps.store.activeflows.delete(customer, id))

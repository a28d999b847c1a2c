"""/v1.0/aicalls: AI calls of a customer; start a text AI call, terminate, pause and resume live ones."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from flowengine.ai.aicall import AICallError
from flowengine.ai.endreasons import MANUALLY_CANCELED
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, conflict, unavailable
from flowengine.api.forwarding import live_operation
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.flow.variables import Variables
from flowengine.store import AIcall, NotFoundError
from flowengine.store.aicalls import AIcallStatus
from flowengine.store.views import view, view_model
from flowengine.tenancy import acting_for

router = APIRouter(prefix="/aicalls", tags=["AIcall"])
AIcallView = view_model(AIcall, "AIManagerAIcall")


class AIcallBody(Body):
    assistance_type: Literal["ai", "team", "ai_team"] = "ai"
    assistance_id: str = Field(max_length=64)
    reference_type: Literal["call", "conversation", "task", "contact_case"]
    reference_id: str = Field("", max_length=64)


def aicall_view(record: AIcall) -> dict[str, Any]:
    return view(record)


@router.get("", response_model=PageOut[AIcallView])  # type: ignore[valid-type]
async def list_aicalls(customer: CustomerId, deps: Deps, paging: Paging,
                       status: AIcallStatus | None = None) -> dict[str, Any]:
    filters = {"status": status} if status else None
    page = await deps.store.aicalls.list_page(customer, page_size=paging.page_size, page_token=paging.page_token,
                                              filters=filters)
    return page_out(page, aicall_view)


@router.post("", response_model=AIcallView)
async def create_aicall(customer: CustomerId, deps: Deps, body: AIcallBody) -> dict[str, Any]:
    """Starts a text AI call (`reference_type: conversation`); talk to it with POST /aimessages. Voice
    AI calls start on a call with the `ai_talk` action (POST /calls with actions)."""
    if body.reference_type != "conversation":
        raise bad_request(f"reference_type {body.reference_type!r} is not supported by POST /aicalls here: "
                          "use 'conversation' (a text AI call), or an ai_talk action on a call", "reference_type")
    if body.assistance_type != "ai":
        raise bad_request("AI teams cannot run AI calls in this engine yet", "assistance_type")
    service = deps.ai_service()
    if deps.resources is None:
        raise unavailable("this engine runs no AI calls")
    try:
        config = await deps.resources.load_ai(customer, body.assistance_id)
    except NotFoundError:
        raise bad_request(f"AI {body.assistance_id} not found", "assistance_id") from None
    with acting_for(customer):
        live = await service.start_conversation(config=config, variables=Variables(),
                                                reference_id=body.reference_id)
    return aicall_view(await deps.store.aicalls.get(customer, live.record.id))


@router.get("/{id}", response_model=AIcallView)
async def get_aicall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return aicall_view(await deps.store.aicalls.get(customer, id))


@router.delete("/{id}", response_model=AIcallView)
async def delete_aicall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Terminates a live AI call, then deletes it (soft)."""
    await deps.store.aicalls.get(customer, id)
    await deps.live_op("aicall.terminate", customer, id)
    return aicall_view(await deps.store.aicalls.delete(customer, id))


@live_operation("aicall.terminate", "aicall")
async def _terminate(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    record = await deps.store.aicalls.get(customer, id)
    engine = deps.engine
    service = engine.aicalls if engine is not None else None
    if record.status != "terminated" and service is not None and id in service.live:
        live = service.live[id]
        await service.terminate(id, MANUALLY_CANCELED)
        if live.conversation is not None:  # a voice call ends once its conversation loop returns
            await live.done.wait()
    return aicall_view(await deps.store.aicalls.get(customer, id))


@router.post("/{id}/terminate", response_model=AIcallView)
async def terminate_aicall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Ends the AI call (its call goes on with the flow's next action); an ended one is returned as is."""
    await deps.store.aicalls.get(customer, id)
    return await deps.live_op("aicall.terminate", customer, id)


@router.post("/{id}/pause", response_model=AIcallView)
async def pause_aicall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """flowengine: the AI stops listening and talking, the caller hears hold music (status `pausing`)."""
    await deps.store.aicalls.get(customer, id)
    return await deps.live_op("aicall.pause", customer, id)


@live_operation("aicall.pause", "aicall")
async def _pause(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        await deps.ai_service().pause(id)
    except AICallError as exc:
        raise conflict(str(exc)) from None
    return aicall_view(await deps.store.aicalls.get(customer, id))


@router.post("/{id}/resume", response_model=AIcallView)
async def resume_aicall(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.aicalls.get(customer, id)
    return await deps.live_op("aicall.resume", customer, id)


@live_operation("aicall.resume", "aicall")
async def _resume(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        await deps.ai_service().resume(id)
    except AICallError as exc:
        raise conflict(str(exc)) from None
    return aicall_view(await deps.store.aicalls.get(customer, id))

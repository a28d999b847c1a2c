"""/v1.0/aimessages: the transcript of an AI call, and messages posted into a live text AI call."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from flowengine.ai.aicall import AICallError
from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.deps import ApiDeps
from flowengine.api.errors import bad_request, conflict
from flowengine.api.forwarding import live_operation
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.store import AIMessage, NotFoundError
from flowengine.store.records import UuidStr
from flowengine.store.views import view, view_model
from flowengine.tenancy import acting_for

router = APIRouter(prefix="/aimessages", tags=["AImessage"])
AIMessageView = view_model(AIMessage, "AIManagerMessage")
SEND_TIMEOUT_S = 120.0
"""A forwarded message waits for the AI's answer on the owning node: an LLM's reply, not only Asterisk's."""


class AIMessageBody(Body):
    aicall_id: UuidStr
    role: Literal["user"] = "user"
    content: str = Field(min_length=1, max_length=32_000)


def message_view(record: AIMessage) -> dict[str, Any]:
    return view(record)


@router.get("", response_model=PageOut[AIMessageView])  # type: ignore[valid-type]
async def list_aimessages(customer: CustomerId, deps: Deps, paging: Paging,
                          aicall_id: Annotated[UuidStr, Query(description="the AI call whose messages to list")]) -> dict[str, Any]:
    await deps.store.aicalls.get(customer, aicall_id)
    page = await deps.store.aimessages.list_page(customer, page_size=paging.page_size, page_token=paging.page_token,
                                                 filters={"aicall_id": aicall_id})
    return page_out(page, message_view)


@router.post("", response_model=AIMessageView)
async def create_aimessage(customer: CustomerId, deps: Deps, body: AIMessageBody) -> dict[str, Any]:
    """Posts a user message into a live text AI call and waits for the AI's answer (also stored)."""
    try:
        record = await deps.store.aicalls.get(customer, body.aicall_id)
    except NotFoundError:
        raise bad_request(f"aicall {body.aicall_id} not found", "aicall_id") from None
    if record.status == "terminated":
        raise conflict(f"aicall {record.id} has ended")
    await deps.live_op("aicall.send", customer, record.id, {"content": body.content})
    page = await deps.store.aimessages.list_page(customer, page_size=20, filters={"aicall_id": record.id,
                                                                                 "role": "user"})
    sent = next((m for m in page.items if m.content == body.content), None)
    if sent is None:
        raise conflict(f"aicall {record.id} did not take the message")
    return message_view(sent)


@live_operation("aicall.send", "aicall", timeout_s=SEND_TIMEOUT_S)
async def _send(deps: ApiDeps, customer: str, id: str, args: dict[str, Any]) -> dict[str, Any]:
    """The message into the AI call, on the node running its conversation; returns once the AI has answered."""
    service = deps.ai_service()
    try:
        with acting_for(customer):
            await service.send(id, str(args["content"]))
    except AICallError as exc:
        raise conflict(str(exc)) from None
    return {}


@router.get("/{id}", response_model=AIMessageView)
async def get_aimessage(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return message_view(await deps.store.aimessages.get(customer, id))


@router.delete("/{id}", response_model=AIMessageView)
async def delete_aimessage(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return message_view(await deps.store.aimessages.delete(customer, id))

"""/v1.0/numbers: a customer's phone numbers; an inbound call to one runs its `call_flow_id` as that customer."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from flowengine.api.auth import CustomerId, Deps
from flowengine.api.bodies import Body
from flowengine.api.errors import ApiError, bad_request
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.store import NIL_ID, AlreadyExistsError, NotFoundError, Number
from flowengine.store.numbers import NumberType
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/numbers", tags=["Number"])
NumberView = view_model(Number, "NumberManagerNumber")

E164 = r"^\+[0-9]{3,20}$"


class FlowIdsBody(Body):
    call_flow_id: str = Field(max_length=64)
    message_flow_id: str = Field(NIL_ID, max_length=64)


class NumberUpdateBody(FlowIdsBody):
    name: str = Field("", max_length=255)
    detail: str = Field("", max_length=4096)


class NumberBody(NumberUpdateBody):
    number: str = Field(pattern=E164, description="E.164: `+` and digits; dialled with or without the `+`")
    type: NumberType = "normal"


async def _own_flows(customer: str, deps: Deps, body: FlowIdsBody) -> dict[str, Any]:
    """`call_flow_id` is one of the customer's stored flows; `message_flow_id` too unless unset."""
    await _own_flow(customer, deps, body.call_flow_id, "call_flow_id")
    if body.message_flow_id not in ("", NIL_ID):
        await _own_flow(customer, deps, body.message_flow_id, "message_flow_id")
    return {"call_flow_id": body.call_flow_id, "message_flow_id": body.message_flow_id or NIL_ID}


async def _own_flow(customer: str, deps: Deps, flow_id: str, field: str) -> None:
    try:
        flow = await deps.store.flows.get(customer, flow_id)
    except NotFoundError:
        flow = None
    if flow is None or not flow.persist:
        raise bad_request(f"flow {flow_id!r} not found: {field} names one of your flows (POST /v1.0/flows)", field)


def _taken(number: str, reason: str) -> ApiError:
    return ApiError("ALREADY_EXISTS", f"number {number} {reason}", reason="NUMBER_ALREADY_EXISTS", field="number")


def number_view(number: Number) -> dict[str, Any]:
    return view(number)


@router.get("", response_model=PageOut[NumberView])  # type: ignore[valid-type]
async def list_numbers(customer: CustomerId, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.numbers.list_page(customer, page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, number_view)


@router.post("", response_model=NumberView)
async def create_number(customer: CustomerId, deps: Deps, body: NumberBody) -> dict[str, Any]:
    flows = await _own_flows(customer, deps, body)
    app = deps.engine.app if deps.engine is not None else None
    if app is not None and app.routes.routes_number(body.number):  # the operator's file routes it: it wins
        raise _taken(body.number, "is routed by the engine's configuration")
    now = deps.store.clock()
    try:
        number = await deps.store.numbers.create(Number(
            customer_id=customer, number=body.number, type=body.type, name=body.name, detail=body.detail,
            tm_purchase=now, tm_renew=now, **flows))
    except AlreadyExistsError:
        raise _taken(body.number, "already exists") from None
    return _published(deps, "number_created", number)


@router.get("/{id}", response_model=NumberView)
async def get_number(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return number_view(await deps.store.numbers.get(customer, id))


@router.put("/{id}", response_model=NumberView)
async def update_number(customer: CustomerId, deps: Deps, id: ResourceId, body: NumberUpdateBody) -> dict[str, Any]:
    await deps.store.numbers.get(customer, id)  # 404 before the body is judged
    flows = await _own_flows(customer, deps, body)
    number = await deps.store.numbers.update(customer, id, name=body.name, detail=body.detail, **flows)
    return _published(deps, "number_updated", number)


@router.put("/{id}/flow_ids", response_model=NumberView)
async def update_number_flow_ids(customer: CustomerId, deps: Deps, id: ResourceId,
                                 body: FlowIdsBody) -> dict[str, Any]:
    await deps.store.numbers.get(customer, id)
    number = await deps.store.numbers.update(customer, id, **await _own_flows(customer, deps, body))
    return _published(deps, "number_updated", number)


@router.delete("/{id}", response_model=NumberView)
async def delete_number(customer: CustomerId, deps: Deps, id: ResourceId) -> dict[str, Any]:
    await deps.store.numbers.update(customer, id, status="deleted")
    return _published(deps, "number_deleted", await deps.store.numbers.delete(customer, id))


def _published(deps: Deps, kind: str, number: Number) -> dict[str, Any]:
    data = number_view(number)
    deps.events.emit(kind, number.customer_id, data)
    return data

"""/v1.0/accesskeys (admin): API keys of customers; the token is shown once, on creation."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from flowengine.api.auth import Admin, Deps
from flowengine.api.bodies import Body
from flowengine.api.errors import bad_request
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.store import AccessKey, NotFoundError
from flowengine.store.records import UuidStr
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/accesskeys", tags=["Accesskey"])
AccessKeyView = view_model(AccessKey, "CustomerManagerAccesskey")
IssuedView = view_model(AccessKey, "CustomerManagerAccesskeyIssued")


class IssuedKey(IssuedView):  # type: ignore[misc,valid-type]
    token: str


class AccessKeyBody(Body):
    customer_id: UuidStr
    name: str = Field("", max_length=255)
    detail: str = Field("", max_length=4096)
    admin: bool = False


@router.get("", response_model=PageOut[AccessKeyView])  # type: ignore[valid-type]
async def list_accesskeys(who: Admin, deps: Deps, paging: Paging,
                          customer_id: Annotated[UuidStr, Query(description="whose keys")]) -> dict[str, Any]:
    page = await deps.store.accesskeys.list_page(customer_id, page_size=paging.page_size,
                                                 page_token=paging.page_token)
    return page_out(page, view)


@router.post("", response_model=IssuedKey)
async def create_accesskey(who: Admin, deps: Deps, body: AccessKeyBody) -> dict[str, Any]:
    try:
        issued = await deps.store.accesskeys.issue(body.customer_id, name=body.name, detail=body.detail,
                                                   admin=body.admin)
    except NotFoundError:
        raise bad_request(f"customer {body.customer_id} not found", "customer_id") from None
    return {**view(issued.key), "token": issued.token.get_secret_value()}


@router.delete("/{id}", response_model=AccessKeyView)
async def revoke_accesskey(who: Admin, deps: Deps, id: ResourceId,
                           customer_id: Annotated[UuidStr, Query(description="the key's customer")]) -> dict[str, Any]:
    return view(await deps.store.accesskeys.delete(customer_id, id))

"""/v1.0/customers (admin): the tenants, their webhook URL and secret (write-only)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, SecretStr

from flowengine.api.auth import Admin, Deps
from flowengine.api.bodies import Body
from flowengine.api.ids import ResourceId
from flowengine.api.pagination import PageOut, Paging, page_out
from flowengine.store import Customer
from flowengine.store.records import WebhookMethod
from flowengine.store.views import view, view_model

router = APIRouter(prefix="/customers", tags=["Customer"])
CustomerView = view_model(Customer, "CustomerManagerCustomer")


class CustomerBody(Body):
    name: str = Field(max_length=255)
    detail: str = Field("", max_length=4096)
    email: str = Field("", max_length=255)
    phone_number: str = Field("", max_length=64)
    address: str = Field("", max_length=1024)
    webhook_method: WebhookMethod = "POST"
    webhook_uri: str = Field("", max_length=2048, pattern=r"^(https?://\S+)?$")
    webhook_secret: SecretStr = Field(SecretStr(""), max_length=1024, json_schema_extra={"writeOnly": True})

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"webhook_secret"})


@router.get("", response_model=PageOut[CustomerView])  # type: ignore[valid-type]
async def list_customers(who: Admin, deps: Deps, paging: Paging) -> dict[str, Any]:
    page = await deps.store.customers.list_page(page_size=paging.page_size, page_token=paging.page_token)
    return page_out(page, view)


@router.post("", response_model=CustomerView)
async def create_customer(who: Admin, deps: Deps, body: CustomerBody) -> dict[str, Any]:
    return view(await deps.store.customers.create(Customer(**body.fields()), webhook_secret=body.webhook_secret))


@router.get("/{id}", response_model=CustomerView)
async def get_customer(who: Admin, deps: Deps, id: ResourceId) -> dict[str, Any]:
    return view(await deps.store.customers.get(id))


@router.put("/{id}", response_model=CustomerView)
async def update_customer(who: Admin, deps: Deps, id: ResourceId, body: CustomerBody) -> dict[str, Any]:
    """An empty `webhook_secret` keeps the stored one."""
    secret = body.webhook_secret if body.webhook_secret.get_secret_value() else None
    return view(await deps.store.customers.update(id, webhook_secret=secret, **body.fields()))


@router.delete("/{id}", response_model=CustomerView)
async def delete_customer(who: Admin, deps: Deps, id: ResourceId) -> dict[str, Any]:
    """Its keys stop working at once."""
    return view(await deps.store.customers.delete(id))

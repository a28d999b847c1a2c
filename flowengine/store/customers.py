"""Customers (the tenants) and their repository; admin-level, so not scoped by a customer."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import SecretStr
from sqlalchemy import Column, Table, Text

from flowengine.store.crypto import SecretBox
from flowengine.store.database import Database
from flowengine.store.errors import AlreadyExistsError, NotFoundError
from flowengine.store.pagination import DEFAULT_PAGE_SIZE, Page
from flowengine.store.records import Record, WebhookMethod
from flowengine.store.schema import metadata, resource_columns, text
from flowengine.store.table import TableAccess, When
from flowengine.store.timestamps import Clock

CustomerStatus = Literal["initial", "active", "frozen", "deleted", "expired"]

customers = Table(
    "customers",
    metadata,
    *resource_columns(scoped=False),
    text("name"),
    text("detail"),
    text("email"),
    text("phone_number"),
    text("address"),
    text("webhook_method"),
    text("webhook_uri"),
    Column("webhook_secret_enc", Text, nullable=True),
    text("status"),
)


class Customer(Record):
    """VoIPBIN's customer (CustomerManagerCustomer). The webhook secret (HMAC key of
    `X-VoIPBIN-Signature`) is not a field: it is encrypted and read with `get_webhook_secret`."""

    name: str = ""
    detail: str = ""
    email: str = ""
    phone_number: str = ""
    address: str = ""
    webhook_method: WebhookMethod = ""
    webhook_uri: str = ""
    status: CustomerStatus = "active"


class CustomerRepository:
    """Admin operations on customers. Deleting a customer (soft) makes its key stop working
    and refuses new resources for it; its existing rows stay until purged."""

    resource = "customer"

    def __init__(self, db: Database, clock: Clock, secrets: SecretBox) -> None:
        self._db = db
        self._secrets = secrets
        self._access = TableAccess(db, clock, customers, Customer, self.resource, ("status", "email"))

    def _secret_value(self, secret: str | SecretStr | None) -> str | None:
        if secret is None or secret == "" or (isinstance(secret, SecretStr) and not secret.get_secret_value()):
            return None
        return self._secrets.encrypt(secret, purpose="customer webhook_secret")

    async def create(self, customer: Customer, *, webhook_secret: str | SecretStr | None = None) -> Customer:
        extra = {"webhook_secret_enc": self._secret_value(webhook_secret)}
        async with self._db.write() as conn:
            return await self._access.insert(conn, customer, extra)

    async def ensure(self, customer: Customer) -> Customer:
        """The customer with `customer.id`, created from `customer` if there is none yet (safe
        when several nodes start at once). For the engine's own default customer."""
        try:
            return await self.get(customer.id, include_deleted=True)
        except NotFoundError:
            pass
        try:
            return await self.create(customer)
        except AlreadyExistsError:
            return await self.get(customer.id, include_deleted=True)

    async def get(self, id: str, *, include_deleted: bool = False) -> Customer:
        return await self._access.get([], id, include_deleted=include_deleted)

    async def list_page(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        include_deleted: bool = False,
        filters: Mapping[str, object] | None = None,
    ) -> Page[Customer]:
        return await self._access.page(
            [], page_size=page_size, page_token=page_token, include_deleted=include_deleted, filters=filters
        )

    async def update(
        self,
        id: str,
        /,
        *,
        expected_revision: int | None = None,
        when: When | None = None,
        webhook_secret: str | SecretStr | None = None,
        **changes: Any,
    ) -> Customer:
        """`webhook_secret=None` keeps the secret, `""` removes it, any other value replaces it."""
        extra = None if webhook_secret is None else {"webhook_secret_enc": self._secret_value(webhook_secret)}
        return await self._access.modify(
            [], id, changes, expected_revision=expected_revision, when=when, extra=extra
        )

    async def delete(self, id: str, *, expected_revision: int | None = None) -> Customer:
        return await self._access.modify([], id, {}, expected_revision=expected_revision, delete=True)

    async def get_webhook_secret(self, id: str) -> SecretStr | None:
        """The decrypted webhook secret, or None if the customer has none."""
        token = await self._access.read_column([], id, "webhook_secret_enc")
        if token is None:
            return None
        return self._secrets.decrypt(token, purpose=f"webhook_secret of customer {id}")

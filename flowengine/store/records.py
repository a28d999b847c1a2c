"""Base record types: the columns every resource has, id types and the shared Address."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from flowengine.store.timestamps import NOT_YET, as_utc

NIL_ID = "00000000-0000-0000-0000-000000000000"
"""VoIPBIN's "no such reference" (Go's zero UUID): what an unset `*_id` field holds."""


def new_id() -> str:
    return str(uuid.uuid4())


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None


UuidStr = Annotated[str, AfterValidator(_canonical_uuid)]
"""A UUID kept as its canonical lower-case string (ids of resources and customers)."""

UtcTime = Annotated[datetime, AfterValidator(as_utc)]
"""An aware UTC datetime (naive input is taken as UTC)."""


class Record(BaseModel):
    """What every stored resource has. `revision` counts writes (1 after create): pass it back
    as `expected_revision` to update only if nobody else changed the row in between.

    The store sets `revision` and the `tm_*` fields; values given for them on create are ignored.
    `tm_update` stays NOT_YET until the first update, as VoIPBIN does."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    id: UuidStr = Field(default_factory=new_id)
    revision: int = 0
    tm_create: UtcTime = NOT_YET
    tm_update: UtcTime = NOT_YET
    tm_delete: UtcTime = NOT_YET

    @property
    def deleted(self) -> bool:
        return self.tm_delete != NOT_YET


class CustomerRecord(Record):
    """A resource owned by one customer; every query on it names that customer."""

    customer_id: UuidStr


AddressType = Literal[
    "", "agent", "ai", "ai_team", "conference", "email", "extension", "line", "sip", "tel",
    "webchat", "web_session", "whatsapp",
]


class Address(BaseModel):
    """VoIPBIN's address object (`source`, `destination` of calls)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: AddressType = ""
    target: str = ""
    target_name: str = ""
    name: str = ""
    detail: str = ""


WebhookMethod = Literal["", "POST", "GET", "PUT", "DELETE"]

SERVER_FIELDS = frozenset({"id", "customer_id", "revision", "tm_create", "tm_update", "tm_delete"})
"""Fields an update may not set: identity, ownership and the store's own bookkeeping."""

"""Numbers: VoIPBIN's Number resource, a customer's phone number whose inbound calls run its `call_flow_id`.

A number is unique across customers (it routes calls): the database keeps one live row per number."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Index, Table, select

from flowengine.store.records import NIL_ID, CustomerRecord, UtcTime
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import flag, json, listing_index, metadata, ref, resource_columns, text, timestamp
from flowengine.store.timestamps import NOT_YET

NumberType = Literal["normal", "virtual"]
NumberStatus = Literal["active", "deleted"]

numbers = Table(
    "numbers",
    metadata,
    *resource_columns(),
    text("number"),
    text("type"),
    ref("call_flow_id"),
    ref("message_flow_id"),
    text("name"),
    text("detail"),
    text("status"),
    flag("t38_enabled"),
    flag("emergency_enabled"),
    json("metadata"),
    timestamp("tm_purchase"),
    timestamp("tm_renew"),
    listing_index("numbers"),
    # live rows all have tm_delete = NOT_YET, deleted ones each their own: one live row per number,
    # whichever customer holds it, and a deleted number can be created again
    Index("ix_numbers_number", "number", "tm_delete", unique=True),
)


class Number(CustomerRecord):
    """VoIPBIN's NumberManagerNumber. `number` is E.164 (`+` and digits); calls dialled to it (with or
    without the `+`) run `call_flow_id`, a flow of the same customer, as that customer."""

    number: str
    type: NumberType = "normal"
    call_flow_id: str = NIL_ID
    message_flow_id: str = NIL_ID
    name: str = ""
    detail: str = ""
    status: NumberStatus = "active"
    t38_enabled: bool = False
    emergency_enabled: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    tm_purchase: UtcTime = NOT_YET
    tm_renew: UtcTime = NOT_YET


class NumberRepository(ScopedRepository[Number]):
    resource = "number"
    table = numbers
    record_type = Number
    filterable = ("number", "call_flow_id", "status")

    async def find_live(self, number: str) -> Number | None:
        """The live number `number` of whichever customer holds it (for routing inbound calls, never to
        answer a customer)."""
        access = self._access
        async with self._db.read() as conn:
            row = (await conn.execute(
                select(*access.columns).where(numbers.c.number == number, access.live()))).first()
        return access.record(row) if row is not None else None

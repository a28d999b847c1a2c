"""Outplans: how a campaign dials (caller id, dial timeout, retry interval and counts, call window)."""
from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import Table

from flowengine.store.records import Address, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import integer, json, listing_index, metadata, resource_columns, text

DESTINATION_SLOTS = 5
"""Destinations per outdial target (`destination_0..4`), each with its own try count."""

outplans = Table(
    "outplans",
    metadata,
    *resource_columns(),
    text("name"),
    text("detail"),
    json("source"),
    integer("dial_timeout"),
    integer("try_interval"),
    *(integer(f"max_try_count_{i}") for i in range(DESTINATION_SLOTS)),
    json("call_window", nullable=True),
    listing_index("outplans"),
)


class Outplan(CustomerRecord):
    """VoIPBIN's outplan. `dial_timeout` and `try_interval` are milliseconds. `call_window`
    (flowengine's addition, `{days, start, end, timezone}`) limits when targets are dialed."""

    name: str = ""
    detail: str = ""
    source: Address = Field(default_factory=Address)
    dial_timeout: int = Field(30000, ge=1000, le=600000)
    try_interval: int = Field(60000, ge=0)
    max_try_count_0: int = Field(1, ge=0, le=100)
    max_try_count_1: int = Field(0, ge=0, le=100)
    max_try_count_2: int = Field(0, ge=0, le=100)
    max_try_count_3: int = Field(0, ge=0, le=100)
    max_try_count_4: int = Field(0, ge=0, le=100)
    call_window: dict[str, Any] | None = None

    def max_tries(self, index: int) -> int:
        return int(getattr(self, f"max_try_count_{index}"))


class OutplanRepository(ScopedRepository[Outplan]):
    resource = "outplan"
    table = outplans
    record_type = Outplan
    filterable = ("name",)

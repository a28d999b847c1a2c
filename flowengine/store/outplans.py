"""Outplans: how a campaign dials (caller id, dial timeout, retry interval and counts, call window)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from flowengine.store.dialrules import DESTINATION_SLOTS, DialRules
from flowengine.store.records import CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import integer, json, listing_index, metadata, resource_columns, text

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


class Outplan(DialRules, CustomerRecord):
    """VoIPBIN's outplan: its dialing rules (DialRules) plus `name`, `detail` and `call_window`
    (flowengine's addition, `{days, start, end, timezone}`, checked as a CallWindow by campaign.resources)
    which limits when targets are dialed. DialRules is named first so that the record's fields (id,
    customer_id, tm_*) still lead in field order; its config (frozen, extra forbidden) is CustomerRecord's."""

    name: str = ""
    detail: str = ""
    call_window: dict[str, Any] | None = None


class OutplanRepository(ScopedRepository[Outplan]):
    resource = "outplan"
    table = outplans
    record_type = Outplan
    filterable = ("name",)


__all__ = ["DESTINATION_SLOTS", "DialRules", "Outplan", "OutplanRepository", "outplans"]

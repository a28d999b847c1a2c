"""Flows: stored flow documents (actions as JSON) and their repository."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Table

from flowengine.store.records import NIL_ID, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import flag, json, listing_index, metadata, ref, resource_columns, text

FlowType = Literal["", "flow", "conference", "queue", "campaign", "transfer"]

flows = Table(
    "flows",
    metadata,
    *resource_columns(),
    text("type"),
    text("name"),
    text("detail"),
    flag("persist"),
    json("actions"),
    json("variables"),
    ref("on_complete_flow_id"),
    text("direct_hash"),
    listing_index("flows"),
)


class Flow(CustomerRecord):
    """VoIPBIN's flow (FlowManagerFlow) plus the document's `variables`. `actions` are the
    documents' action objects as JSON (`flowengine.flow.model.Action` dumps); the store does not
    interpret them. `persist=False` marks a temporary flow (inline API actions, connect...):
    VoIPBIN keeps those 24 h in Redis; here they are rows the API leaves out of its lists."""

    type: FlowType = "flow"
    name: str = ""
    detail: str = ""
    persist: bool = True
    actions: list[dict[str, Any]] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    on_complete_flow_id: str = NIL_ID
    direct_hash: str = ""


class FlowRepository(ScopedRepository[Flow]):
    resource = "flow"
    table = flows
    record_type = Flow
    filterable = ("type", "persist", "name")

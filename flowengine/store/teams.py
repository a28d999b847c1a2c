"""AI teams: a graph of AI members with LLM-triggered transitions (reference 4.2)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table

from flowengine.store.records import NIL_ID, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import json, listing_index, metadata, ref, resource_columns, text

teams = Table(
    "teams",
    metadata,
    *resource_columns(),
    text("name"),
    text("detail"),
    ref("start_member_id"),
    json("members"),
    json("parameter"),
    text("direct_hash"),
    listing_index("teams"),
)


class TeamTransition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    function_name: str
    description: str = ""
    next_member_id: str


class TeamMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    ai_id: str
    transitions: list[TeamTransition] = Field(default_factory=list)


class Team(CustomerRecord):
    """VoIPBIN's AI team. The store keeps its shape; the graph rules (start member listed,
    unique member ids, known transition targets) are checked by the AI package."""

    name: str = ""
    detail: str = ""
    start_member_id: str = NIL_ID
    members: list[TeamMember] = Field(default_factory=list)
    parameter: dict[str, Any] = Field(default_factory=dict)
    direct_hash: str = ""


class TeamRepository(ScopedRepository[Team]):
    resource = "team"
    table = teams
    record_type = Team
    filterable = ("name",)

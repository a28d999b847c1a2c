"""The front doors' records: a Vapi call or VoiceOS conversation (`FrontCall`), a VoiceOS agent (`Agent`)."""
from __future__ import annotations

import json as jsonlib
import operator
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Column, ColumnElement, Table, Text, case

from flowengine.store.crypto import SecretBox
from flowengine.store.database import Database
from flowengine.store.pagination import Page
from flowengine.store.records import NIL_ID, CustomerRecord, UtcTime
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import json, listing_index, metadata, ref, resource_columns, text, timestamp
from flowengine.store.timestamps import NOT_YET, Clock, as_utc

FrontKind = Literal["vapi", "voiceos"]
FrontStatus = Literal["queued", "ringing", "in-progress", "ended"]
BoundOp = Literal["gt", "lt", "ge", "le"]
BOUND_OPS: tuple[BoundOp, ...] = ("gt", "lt", "ge", "le")
Bounds = Mapping[BoundOp, datetime]
"""Limits on a time: `{"ge": start, "lt": end}` keeps start <= time < end."""
_COMPARE = {"gt": operator.gt, "lt": operator.lt, "ge": operator.ge, "le": operator.le}

frontcalls = Table(
    "frontcalls",
    metadata,
    *resource_columns(),
    text("kind"),
    text("name"),
    text("status"),
    text("ended_reason"),
    ref("ai_id"),
    ref("aicall_id", index=True),
    ref("call_id", index=True),
    text("from_number"),
    text("to_number"),
    json("config"),
    json("metadata"),
    timestamp("tm_start"),
    timestamp("tm_end"),
    listing_index("frontcalls"),
)

agents = Table(
    "agents",
    metadata,
    *resource_columns(),
    ref("ai_id"),
    json("config"),
    Column("headers_enc", Text, nullable=True),
    listing_index("agents"),
)


class FrontCall(CustomerRecord):
    """One call placed through a front door. `status` is Vapi's (VoiceOS shows queued/started/ended);
    `ended_reason` is Vapi's endedReason (flowengine.ai.endreasons maps it for VoiceOS); `config` is
    the request as accepted, secrets removed (Vapi: the call body; VoiceOS: the agent configuration)."""

    kind: FrontKind = "vapi"
    name: str = ""
    status: FrontStatus = "queued"
    ended_reason: str = ""
    ai_id: str = NIL_ID
    aicall_id: str = NIL_ID
    call_id: str = NIL_ID  # the dialled Asterisk channel
    from_number: str = ""
    to_number: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    tm_start: UtcTime = NOT_YET
    tm_end: UtcTime = NOT_YET


class FrontCallRepository(ScopedRepository[FrontCall]):
    resource = "call"
    table = frontcalls
    record_type = FrontCall
    filterable = ("id", "kind", "status", "aicall_id", "call_id")

    async def list_page_within(self, customer_id: str, *, created: Bounds, updated: Bounds, page_size: int,
                               page_token: str | None = None,
                               filters: Mapping[str, object] | None = None) -> Page[FrontCall]:
        """list_page of the calls created within `created` and last changed within `updated` (the last
        change of a call never updated is its creation, as Vapi's updatedAt)."""
        c = self.table.c
        changed = case((c.tm_update == NOT_YET, c.tm_create), else_=c.tm_update)
        within: list[ColumnElement[bool]] = [_COMPARE[op](c.tm_create, as_utc(at)) for op, at in created.items()]
        within += [_COMPARE[op](changed, as_utc(at)) for op, at in updated.items()]
        return await self._access.page([*self._scope(customer_id), *within], page_size=page_size,
                                       page_token=page_token, filters=filters)


class Agent(CustomerRecord):
    """A VoiceOS agent: its AI (`ai_id`, which does the work) and the configuration as VoiceOS shows it.
    Webhook headers are kept apart, encrypted (`headers_enc`): they usually carry credentials."""

    ai_id: str = NIL_ID
    config: dict[str, Any] = Field(default_factory=dict)


class AgentRepository(ScopedRepository[Agent]):
    resource = "agent"
    table = agents
    record_type = Agent
    filterable = ("ai_id",)

    def __init__(self, db: Database, clock: Clock, secrets: SecretBox) -> None:
        super().__init__(db, clock)
        self._secrets = secrets

    def _encrypt(self, headers: list[dict[str, str]]) -> str | None:
        if not any(headers):
            return None
        return self._secrets.encrypt(jsonlib.dumps(headers), purpose="agent webhook headers")

    async def create_with_headers(self, record: Agent, headers: list[dict[str, str]]) -> Agent:
        """`headers[i]` are the headers of `config.webhooks[i]` (needs store.secret_key when any is set)."""
        return await self._insert(record, {"headers_enc": self._encrypt(headers)})

    async def update_with_headers(self, customer_id: str, id: str, headers: list[dict[str, str]],
                                  **changes: Any) -> Agent:
        return await self._access.modify(self._scope(customer_id), id, changes,
                                         extra={"headers_enc": self._encrypt(headers)})

    async def get_headers(self, customer_id: str, id: str) -> list[dict[str, str]]:
        token = await self._access.read_column(self._scope(customer_id), id, "headers_enc")
        if token is None:
            return []
        loaded: list[dict[str, str]] = jsonlib.loads(
            self._secrets.decrypt(token, purpose=f"webhook headers of agent {id}").get_secret_value())
        return loaded

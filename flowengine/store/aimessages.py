"""AI messages: the stored transcript of an AI call (reference 4.8)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, select

from flowengine.store.records import NIL_ID, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import json, listing_index, metadata, ref, resource_columns, text

MessageRole = Literal["", "system", "user", "assistant", "function", "tool", "notification"]
MessageDirection = Literal["", "incoming", "outgoing"]
TRANSCRIPT_LIMIT = 10_000

aimessages = Table(
    "aimessages",
    metadata,
    *resource_columns(),
    ref("aicall_id", index=True),
    ref("activeflow_id"),
    ref("active_ai_id"),
    text("direction"),
    text("role"),
    text("content"),
    json("tool_calls"),
    text("tool_call_id"),
    ref("in_reply_to_message_id"),
    listing_index("aimessages"),
)


class ToolFunction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    arguments: str = "{}"
    """The arguments as a JSON string, as OpenAI sends them."""


class ToolCall(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: Literal["function"] = "function"
    function: ToolFunction


class AIMessage(CustomerRecord):
    """VoIPBIN's AI message. `direction`: `outgoing` is towards the AI, `incoming` from it."""

    aicall_id: str = NIL_ID
    activeflow_id: str = NIL_ID
    active_ai_id: str = NIL_ID
    direction: MessageDirection = ""
    role: MessageRole = ""
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str = ""
    in_reply_to_message_id: str = NIL_ID


class AIMessageRepository(ScopedRepository[AIMessage]):
    resource = "aimessage"
    table = aimessages
    record_type = AIMessage
    filterable = ("aicall_id", "role", "direction", "activeflow_id")

    async def transcript(self, customer_id: str, aicall_id: str) -> list[AIMessage]:
        """All live messages of one AI call, oldest first (for the LLM context and reports)."""
        access = self._access
        stmt = (
            select(*access.columns)
            .where(*self._scope(customer_id), aimessages.c.aicall_id == aicall_id, access.live())
            .order_by(aimessages.c.tm_create, aimessages.c.id)
            .limit(TRANSCRIPT_LIMIT)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [access.record(row) for row in rows]

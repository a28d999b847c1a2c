"""Activeflows: one run of a flow with its cursor, stacks, variables and history."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Table

from flowengine.store.errors import PreconditionFailedError
from flowengine.store.nodes import owner_column
from flowengine.store.owned import OwnedRepository
from flowengine.store.records import NIL_ID, CustomerRecord, UtcTime, WebhookMethod
from flowengine.store.schema import integer, json, listing_index, metadata, ref, resource_columns, text, timestamp
from flowengine.store.timestamps import NOT_YET

START_ACTION_ID = "00000000-0000-0000-0000-000000000001"
MAIN_STACK_ID = "00000000-0000-0000-0000-000000000001"

ActiveflowStatus = Literal["", "running", "paused", "ended"]
ActiveflowReferenceType = Literal[
    "", "ai", "api", "call", "campaign", "conversation", "transcribe", "recording", "webchat"
]

activeflows = Table(
    "activeflows",
    metadata,
    *resource_columns(),
    ref("flow_id"),
    text("status"),
    text("reference_type"),
    ref("reference_id", index=True),
    ref("reference_activeflow_id"),
    ref("on_complete_flow_id"),
    text("webhook_uri"),
    text("webhook_method"),
    json("stack_map"),
    ref("current_stack_id"),
    json("current_action"),
    ref("forward_stack_id"),
    ref("forward_action_id"),
    integer("execute_count"),
    json("executed_actions"),
    json("variables"),
    text("ended_reason"),
    timestamp("tm_end"),
    owner_column(),  # migration 11
    listing_index("activeflows"),
)


class Activeflow(CustomerRecord):
    """VoIPBIN's activeflow (reference 1.4) with the field names of its model. flowengine
    extensions: status `paused`, `variables` (VoIPBIN keeps them in a separate table),
    `ended_reason` and `tm_end`. The stack map and actions are JSON the runner owns."""

    flow_id: str = NIL_ID
    status: ActiveflowStatus = "running"
    reference_type: ActiveflowReferenceType = ""
    reference_id: str = NIL_ID
    reference_activeflow_id: str = NIL_ID
    on_complete_flow_id: str = NIL_ID
    webhook_uri: str = ""
    webhook_method: WebhookMethod = ""
    stack_map: dict[str, Any] = Field(default_factory=dict)
    current_stack_id: str = MAIN_STACK_ID
    current_action: dict[str, Any] = Field(default_factory=lambda: {"id": START_ACTION_ID})
    forward_stack_id: str = NIL_ID
    forward_action_id: str = NIL_ID
    execute_count: int = 0
    executed_actions: list[dict[str, Any]] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    ended_reason: str = ""
    tm_end: UtcTime = NOT_YET


class ActiveflowRepository(OwnedRepository[Activeflow]):
    """Cursor moves go through `update(..., expected_revision=af.revision, ...)`: of two nodes
    that read the same revision, only the first write wins; the other gets StaleRevisionError."""

    resource = "activeflow"
    table = activeflows
    record_type = Activeflow
    filterable = ("status", "reference_type", "reference_id", "flow_id", "reference_activeflow_id")

    async def end(self, customer_id: str, id: str, *, reason: str = "") -> tuple[Activeflow, bool]:
        """Sets status `ended`, tm_end and ended_reason unless already ended (a no-op then, as
        VoIPBIN's Stop). Returns the record and whether this call ended it."""
        try:
            ended = await self.update(
                customer_id,
                id,
                when={"status": ("", "running", "paused")},
                status="ended",
                ended_reason=reason,
                tm_end=self._access.clock(),
            )
        except PreconditionFailedError:
            return await self.get(customer_id, id), False
        return ended, True

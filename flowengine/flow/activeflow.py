"""The activeflow: one run of a flow, its cursor, stacks, variables and history (VoIPBIN's fields)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from flowengine.flow.ids import EMPTY_ID, START_ID
from flowengine.flow.model import Action, Flow

MAIN_STACK_ID = "00000000-0000-0000-0000-000000000001"
EMPTY_STACK_ID = EMPTY_ID
TM_UNSET = "9999-01-01 00:00:00.000000"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class ActiveflowStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


class ReferenceType(StrEnum):
    NONE = ""
    AI = "ai"
    API = "api"
    CALL = "call"
    CAMPAIGN = "campaign"
    CONVERSATION = "conversation"
    RECORDING = "recording"


class Stack(BaseModel):
    """A list of actions with the address to return to when it runs out."""

    id: str
    actions: list[Action]
    return_stack_id: str = EMPTY_STACK_ID
    return_action_id: str = EMPTY_ID


class Activeflow(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    customer_id: str = EMPTY_ID
    flow_id: str = ""
    status: ActiveflowStatus = ActiveflowStatus.RUNNING
    reference_type: ReferenceType = ReferenceType.NONE
    reference_id: str = EMPTY_ID
    reference_activeflow_id: str = EMPTY_ID
    on_complete_flow_id: str = ""
    stack_map: dict[str, Stack] = Field(default_factory=dict)
    current_stack_id: str = MAIN_STACK_ID
    current_action: Action = Field(default_factory=lambda: Action(id=START_ID, type=""))
    forward_stack_id: str = EMPTY_STACK_ID
    forward_action_id: str = EMPTY_ID
    execute_count: int = 0
    executed_actions: list[Action] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    ended_reason: str = ""
    tm_create: str = Field(default_factory=now)
    tm_update: str = TM_UNSET
    tm_end: str = TM_UNSET
    tm_delete: str = TM_UNSET

    @classmethod
    def for_flow(
        cls,
        flow: Flow,
        *,
        reference_type: ReferenceType,
        reference_id: str = EMPTY_ID,
        activeflow_id: str | None = None,
        customer_id: str = EMPTY_ID,
        reference_activeflow_id: str = EMPTY_ID,
    ) -> Activeflow:
        """A new activeflow at `start`, the flow's actions copied into the main stack."""
        main = Stack(id=MAIN_STACK_ID, actions=[a.model_copy(deep=True) for a in flow.actions])
        return cls(
            id=activeflow_id or str(uuid.uuid4()),
            customer_id=customer_id,
            flow_id=flow.id or "",
            reference_type=reference_type,
            reference_id=reference_id,
            reference_activeflow_id=reference_activeflow_id,
            on_complete_flow_id=flow.on_complete_flow_id or "",
            stack_map={MAIN_STACK_ID: main},
        )

    @property
    def has_forward(self) -> bool:
        return self.forward_stack_id != EMPTY_STACK_ID and self.forward_action_id != EMPTY_ID

    def set_forward(self, stack_id: str, action_id: str) -> None:
        self.forward_stack_id, self.forward_action_id = stack_id, action_id

    def clear_forward(self) -> None:
        self.forward_stack_id, self.forward_action_id = EMPTY_STACK_ID, EMPTY_ID

    def public_view(self) -> dict[str, Any]:
        """The API/webhook view: without stack_map, current_stack_id, forward_stack_id, execute_count."""
        return self.model_dump(
            mode="json", exclude={"stack_map", "current_stack_id", "forward_stack_id", "execute_count", "variables"}
        )

"""The flow document model: `Flow` and its `Action`s, as the runner and the API use them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowengine.flow.ids import is_unset, new_action_id

FlowType = Literal["", "flow", "conference", "queue", "campaign", "transfer"]

IGNORED_FLOW_FIELDS = frozenset(
    {"customer_id", "persist", "direct_id", "direct_hash", "tm_create", "tm_update", "tm_delete"}
)
"""Read-only fields of VoIPBIN's flow resource: accepted (a flow exported from VoIPBIN loads
unchanged) and ignored."""
IGNORED_ACTION_FIELDS = frozenset({"tm_execute"})


class Action(BaseModel):
    """One action. `option` stays a plain mapping: it may hold `${...}` anywhere, and is turned
    into typed options (`ActionSpec.parse_options`) only after substitution, when it runs."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=new_action_id)
    next_id: str | None = None
    type: str
    option: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _fresh_id(cls, value: Any) -> Any:
        return new_action_id() if is_unset(value) else value

    @field_validator("next_id", mode="before")
    @classmethod
    def _no_next(cls, value: Any) -> Any:
        return None if is_unset(value) else value

    @field_validator("option", mode="before")
    @classmethod
    def _no_option(cls, value: Any) -> Any:
        return {} if value is None else value


class Flow(BaseModel):
    """A flow document. Build one from a checked document with `flowengine.flow.load`."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str
    detail: str = ""
    type: FlowType = "flow"
    variables: dict[str, Any] = Field(default_factory=dict)
    on_complete_flow_id: str | None = None
    actions: list[Action]

    @field_validator("detail", "type", mode="before")
    @classmethod
    def _null_is_default(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("variables", mode="before")
    @classmethod
    def _null_variables(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("on_complete_flow_id", "id", mode="before")
    @classmethod
    def _unset(cls, value: Any) -> Any:
        return None if is_unset(value) else value

    def action(self, action_id: str) -> Action | None:
        return next((a for a in self.actions if a.id == action_id), None)

"""Options of the flow-control actions: goto, branch, condition_*, variable_set, fetch, fetch_flow."""
from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from flowengine.flow.options.common import RUNNING, HttpMethod, OptionModel
from flowengine.flow.templates import has_reference

Comparison = Literal["==", "!=", ">", ">=", "<", "<="]
JsonValue = str | int | float | bool | list[Any] | dict[str, Any]


class GotoOptions(OptionModel):
    target_id: str = Field(description="Action to jump to.")
    loop_count: int = Field(ge=0, json_schema_extra={"minimum": 1},
                            description="How many times this goto jumps; then it falls through.")

    @field_validator("loop_count")
    @classmethod
    def _jumps_at_least_once(cls, value: int, info: ValidationInfo) -> int:
        """A document must jump at least once (a goto that never jumps is a mistake); a running goto
        counts down to 0 in its stored copy, and 0 there is the normal exhausted state."""
        if value < 1 and not (info.context or {}).get(RUNNING):
            raise PydanticCustomError("greater_than_equal", "Input should be greater than or equal to {ge}", {"ge": 1})
        return value


class BranchOptions(OptionModel):
    variable: str = Field(
        "voipbin.call.digits", description="Variable *name* whose value picks the target (then cleared)."
    )
    default_target_id: str = Field("", description="Target when no value matches.")
    target_ids: dict[str, str] = Field(default_factory=dict, description="Value -> action id.")


class _Condition(OptionModel):
    false_target_id: str = Field("", description="Where to go when the condition is false.")


class ConditionVariableOptions(_Condition):
    condition: Comparison = Field(description="Comparison operator.")
    variable: str = Field(description="Value to compare: '${name}' (or a bare variable name).")
    value_type: Literal["string", "number", "length"] = Field("string")
    value_string: str = Field("", description="Compared with value_type string.")
    value_number: float = Field(0.0, description="Compared with value_type number.")
    value_length: int = Field(0, ge=0, description="Compared with value_type length.")


class ConditionDatetimeOptions(_Condition):
    condition: Comparison = Field(description="Comparison operator: 'option OP now'.")
    minute: int | None = Field(None, ge=-1, le=59, description="Not compared when omitted or -1.")
    hour: int | None = Field(None, ge=-1, le=23, description="Not compared when omitted or -1.")
    day: int | None = Field(None, ge=0, le=31, description="Day of month; not compared when omitted or 0.")
    month: int | None = Field(None, ge=0, le=12, description="Not compared when omitted or 0.")
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=list, description="Allowed weekdays, Sunday=0 .. Saturday=6."
    )
    timezone: str = Field("", description="IANA time zone (flowengine extension); default UTC.")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value and not has_reference(value):
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Europe/Paris)") from None
        return value


class ConditionCallDigitsOptions(_Condition):
    length: int = Field(0, ge=0, description="True when at least this many digits were received.")
    key: str = Field("", description="True when the digits contain this key.")


class ConditionCallStatusOptions(_Condition):
    status: str = Field(description="Call status to compare with, e.g. progressing.")


class VariableSetOptions(OptionModel):
    key: str = Field(min_length=1, description="Variable name.")
    value: JsonValue = Field(description="Value; '${...}' in it is expanded when it is set.")


class FetchOptions(OptionModel):
    event_url: str = Field(description="URL returning a JSON list of actions to run next.")
    event_method: HttpMethod = Field("POST", description="HTTP method.")


class FetchFlowOptions(OptionModel):
    flow_id: str = Field(description="Flow whose actions run next.")

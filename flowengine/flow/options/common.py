"""The base class of option models and the types several action groups share (addresses)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

MISSING_OPTION = "missing_option"
"""Error type raised by model-level "one of these is required" checks (ctx: `name`)."""


RUNNING = "running"
"""Validation-context key set by ActionSpec.parse_options for options of an action about to run."""

class OptionModel(BaseModel):
    """Options of one action type.

    Validation is strict (a YAML `"5"` is not an integer) when checking documents; the runner
    validates substituted options with `strict=False`, where `"5"` from a string variable is
    accepted and numbers become strings for text fields. A `null` option means "not given",
    as a JSON null does for VoIPBIN's Go structs.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        coerce_numbers_to_str=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class NoOptions(OptionModel):
    """Action types that take no options."""


def missing(name: str) -> PydanticCustomError:
    return PydanticCustomError(MISSING_OPTION, "missing required option '{name}'", {"name": name})


AddressType = Literal[
    "",
    "agent",
    "ai",
    "ai_team",
    "conference",
    "email",
    "extension",
    "line",
    "sip",
    "tel",
    "webchat",
    "web_session",
    "whatsapp",
]


class Address(OptionModel):
    """VoIPBIN's address object (`source`, `destinations`)."""

    type: AddressType = ""
    target: str = ""
    target_name: str = ""
    name: str = ""
    detail: str = ""


Anonymous = Literal["", "yes", "no", "auto"]
HttpMethod = Literal["", "POST", "GET", "PUT", "DELETE"]
Destinations = list[Address]


def destinations_field(description: str) -> Any:
    return Field(min_length=1, description=description)

"""Resource views: a stored record as VoIPBIN's API shows it (timestamps as text, no store bookkeeping)."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from flowengine.store import format_timestamp
from flowengine.store.records import Record

HIDDEN = frozenset({"revision"})


def view_model(record_type: type[Record], name: str, *, exclude: Collection[str] = ()) -> type[BaseModel]:
    """A response model with the record's fields minus `exclude`; `tm_*` are VoIPBIN's
    `2024-02-09 07:01:35.666687` text (`9999-01-01 00:00:00.000000`: not yet)."""
    hidden = HIDDEN | set(exclude)
    fields: dict[str, Any] = {}
    for field_name, info in record_type.model_fields.items():
        if field_name in hidden:
            continue
        annotation = str if field_name.startswith("tm_") else info.annotation
        fields[field_name] = (annotation, ...)
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
    return model


def unset_object(annotation: Any) -> dict[str, Any] | None:
    """What an unset `SomeModel | None` field shows: the model with nothing set (VoIPBIN's spec types such
    fields as objects, never null: `vad_config`, `ai_vad_config`); None for any other annotation."""
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            try:
                empty: dict[str, Any] = arg().model_dump(mode="json")
            except ValidationError:
                return {}
            return empty
    return None


def view(record: Record, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    hidden = HIDDEN | set(exclude)
    out: dict[str, Any] = {}
    fields = type(record).model_fields
    for name, value in record.model_dump(mode="python").items():
        if name in hidden:
            continue
        if isinstance(value, datetime):
            out[name] = format_timestamp(value)
        elif value is None and name in fields and (empty := unset_object(fields[name].annotation)) is not None:
            out[name] = empty
        else:
            out[name] = value
    result: dict[str, Any] = _jsonable(out)
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


ACTIVEFLOW_HIDDEN = ("stack_map", "current_stack_id", "forward_stack_id", "execute_count", "variables")
"""Runner state VoIPBIN's activeflow view leaves out (variables may hold what callers typed)."""


def activeflow_view(record: Record) -> dict[str, Any]:
    return view(record, exclude=ACTIVEFLOW_HIDDEN)

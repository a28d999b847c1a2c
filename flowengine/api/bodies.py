"""Base of request bodies: unknown fields and NUL characters are refused with the field named."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(str(key), path) or _find_nul(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        found = _find_nul(data, "")
        if found is not None:
            raise ValueError(f"{found or 'body'}: NUL characters are not allowed")
        return data

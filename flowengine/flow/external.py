"""Sanitising of variables supplied from outside an activeflow (API, campaign, on-end flows)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowengine.flow.errors import ExternalVariablesError
from flowengine.flow.varnames import is_reserved

MAX_KEYS = 100
MAX_VALUE_BYTES = 32 * 1024
MAX_TOTAL_BYTES = 64 * 1024


def value_size(value: Any) -> int:
    """Bytes a value takes: UTF-8 for strings, compact JSON for anything else."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def sanitize_external(values: Mapping[Any, Any]) -> dict[str, Any]:
    """Trim keys and check VoIPBIN's limits; raises `ExternalVariablesError` listing every problem.

    VoIPBIN silently drops `voipbin.*` and empty keys and silently drops the whole injection when
    a limit is exceeded; here the caller gets an error naming each offending key instead.
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    if len(values) > MAX_KEYS:
        problems.append(f"too many variables: {len(values)} (at most {MAX_KEYS})")
    total = 0
    for raw_key, value in values.items():
        if not isinstance(raw_key, str):
            problems.append(f"variable name {raw_key!r} is not a string")
            continue
        key = raw_key.strip()
        if not key:
            problems.append("empty variable name")
            continue
        if is_reserved(key):
            problems.append(f"variable '{key}' is reserved: names starting with 'voipbin.' are set by the engine")
            continue
        try:
            size = value_size(value)
        except (TypeError, ValueError):
            problems.append(f"variable '{key}' has a value that is not JSON data")
            continue
        if size > MAX_VALUE_BYTES:
            problems.append(f"variable '{key}' is too large: {size} bytes (at most {MAX_VALUE_BYTES})")
        total += len(key.encode("utf-8")) + size
        if key in out:
            problems.append(f"variable '{key}' is given twice (after trimming spaces)")
        out[key] = value
    if total > MAX_TOTAL_BYTES:
        problems.append(f"variables are too large in total: {total} bytes (at most {MAX_TOTAL_BYTES})")
    if problems:
        raise ExternalVariablesError(problems)
    return out

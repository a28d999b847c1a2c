"""Campaign resources as the API and webhooks show them: JSON-ready, VoIPBIN's timestamp form."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flowengine.store.records import Record
from flowengine.store.timestamps import format_timestamp

HIDDEN = frozenset({"revision"})


def view(record: Record) -> dict[str, Any]:
    """Every field but the store's bookkeeping; `tm_*` as `2024-02-09 07:01:35.666687`."""
    data: dict[str, Any] = {}
    for name in type(record).model_fields:
        if name in HIDDEN:
            continue
        value = getattr(record, name)
        if isinstance(value, datetime):
            data[name] = format_timestamp(value)
        elif hasattr(value, "model_dump"):
            data[name] = value.model_dump(mode="json")
        else:
            data[name] = value
    return data

"""What both front doors (Vapi, VoiceOS) read of a front-door call: its AI call and transcript; query times."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from flowengine.store import AIcall, AIMessage, NotFoundError, Store
from flowengine.store.frontdoor import FrontCall
from flowengine.store.records import NIL_ID
from flowengine.store.timestamps import as_utc


def _utc(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


Instant = Annotated[datetime, AfterValidator(_utc)]
"""A time in a query of either front door: ISO 8601, aware UTC (a time without a zone is UTC)."""


async def aicall_parts(store: Store, record: FrontCall) -> tuple[AIcall | None, list[AIMessage]]:
    if record.aicall_id == NIL_ID:
        return None, []
    try:
        aicall = await store.aicalls.get(record.customer_id, record.aicall_id)
    except NotFoundError:
        return None, []
    return aicall, await store.aimessages.transcript(record.customer_id, aicall.id)

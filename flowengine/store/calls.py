"""Calls: VoIPBIN's call resource as the engine keeps it, plus the Asterisk channel id."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Table

from flowengine.store.errors import PreconditionFailedError
from flowengine.store.nodes import owner_column
from flowengine.store.owned import OwnedRepository
from flowengine.store.records import NIL_ID, Address, CustomerRecord, UtcTime
from flowengine.store.schema import json, listing_index, metadata, ref, resource_columns, text, timestamp
from flowengine.store.timestamps import NOT_YET

CallStatus = Literal["dialing", "ringing", "progressing", "terminating", "canceling", "hangup"]
CallDirection = Literal["incoming", "outgoing"]
CallType = Literal["", "flow", "conference", "sip-service"]
MuteDirection = Literal["", "both", "in", "out"]
HangupBy = Literal["", "remote", "local"]
HangupReason = Literal["", "normal", "failed", "busy", "cancel", "timeout", "noanswer", "dialout", "amd"]

calls = Table(
    "calls",
    metadata,
    *resource_columns(),
    text("owner_type"),
    ref("owner_id"),
    ref("flow_id"),
    ref("activeflow_id", index=True),
    text("type"),
    ref("master_call_id"),
    json("chained_call_ids"),
    ref("recording_id"),
    json("recording_ids"),
    ref("groupcall_id"),
    json("source"),
    json("destination"),
    text("status"),
    json("action"),
    text("direction"),
    text("mute_direction"),
    text("hangup_by"),
    text("hangup_reason"),
    json("metadata", nullable=True),
    ref("channel_id", index=True),
    timestamp("tm_ringing"),
    timestamp("tm_progressing"),
    timestamp("tm_hangup"),
    owner_column(),  # migration 11
    listing_index("calls"),
)


class Call(CustomerRecord):
    """VoIPBIN's call (CallManagerCall; webhook fields of reference 7) and `channel_id`, the
    Asterisk channel of this call (internal: not in VoIPBIN's API view)."""

    owner_type: str = ""
    owner_id: str = NIL_ID
    flow_id: str = NIL_ID
    activeflow_id: str = NIL_ID
    type: CallType = "flow"
    master_call_id: str = NIL_ID
    chained_call_ids: list[str] = Field(default_factory=list)
    recording_id: str = NIL_ID
    recording_ids: list[str] = Field(default_factory=list)
    groupcall_id: str = NIL_ID
    source: Address = Field(default_factory=Address)
    destination: Address = Field(default_factory=Address)
    status: CallStatus = "dialing"
    action: dict[str, Any] = Field(default_factory=dict)
    direction: CallDirection
    mute_direction: MuteDirection = ""
    hangup_by: HangupBy = ""
    hangup_reason: HangupReason = ""
    metadata: dict[str, Any] | None = None
    channel_id: str = ""
    tm_ringing: UtcTime = NOT_YET
    tm_progressing: UtcTime = NOT_YET
    tm_hangup: UtcTime = NOT_YET


class CallRepository(OwnedRepository[Call]):
    resource = "call"
    table = calls
    record_type = Call
    filterable = ("status", "direction", "activeflow_id", "flow_id", "channel_id", "groupcall_id", "master_call_id")

    async def find_by_channel(self, customer_id: str, channel_id: str) -> Call | None:
        """The live call on this Asterisk channel, if any."""
        items, _ = await self.list_page(customer_id, page_size=1, filters={"channel_id": channel_id})
        return items[0] if items else None

    async def hangup(
        self, customer_id: str, id: str, *, by: HangupBy, reason: HangupReason,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[Call, bool]:
        """Status `hangup` with tm_hangup, hangup_by and hangup_reason (and `metadata` when given), unless
        already hung up. Returns the record and whether this call made the change."""
        extra: dict[str, Any] = {} if metadata is None else {"metadata": metadata}
        try:
            done = await self.update(
                customer_id,
                id,
                when={"status": ("dialing", "ringing", "progressing", "terminating", "canceling")},
                status="hangup",
                hangup_by=by,
                hangup_reason=reason,
                tm_hangup=self._access.clock(),
                **extra,
            )
        except PreconditionFailedError:
            return await self.get(customer_id, id), False
        return done, True

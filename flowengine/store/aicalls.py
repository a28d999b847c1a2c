"""AI calls: one conversation of an AI (or team) attached to a call, conversation or task."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sqlalchemy import Table

from flowengine.store.ais import VadConfig
from flowengine.store.errors import PreconditionFailedError
from flowengine.store.nodes import owner_column
from flowengine.store.owned import OwnedRepository
from flowengine.store.records import NIL_ID, CustomerRecord, UtcTime
from flowengine.store.schema import flag, json, listing_index, metadata, ref, resource_columns, text, timestamp
from flowengine.store.timestamps import NOT_YET

AssistanceType = Literal["ai", "team"]
AIcallReferenceType = Literal["", "call", "conversation", "task", "contact_case"]
AIcallStatus = Literal["initiating", "progressing", "pausing", "resuming", "terminating", "terminated"]
# VoIPBIN defines pausing/resuming but never sets them (reference 9.5); the AI package gives
# them their meaning. Every status but `terminated` is live.
LIVE_STATUSES: tuple[AIcallStatus, ...] = ("initiating", "progressing", "pausing", "resuming", "terminating")

aicalls = Table(
    "aicalls",
    metadata,
    *resource_columns(),
    text("assistance_type"),
    ref("assistance_id"),
    text("ai_engine_model"),
    text("ai_tts_type"),
    text("ai_tts_voice_id"),
    text("ai_stt_type"),
    json("ai_vad_config", nullable=True),
    flag("ai_smart_turn_enabled"),
    json("parameter"),
    ref("activeflow_id", index=True),
    text("reference_type"),
    ref("reference_id", index=True),
    ref("confbridge_id"),
    ref("current_member_id"),
    text("status"),
    text("stt_language"),
    json("metadata"),
    text("ended_reason"),
    timestamp("tm_end"),
    # migration 3
    json("variable_values"),
    json("analysis", nullable=True),
    json("usage", nullable=True),
    json("costs", nullable=True),
    owner_column(),  # migration 11
    listing_index("aicalls"),
)


class AIcall(CustomerRecord):
    """Every field of VoIPBIN's AIcall seed, plus `metadata` (prompt snapshots, OpenAPI) and
    `ended_reason` (flowengine: why it ended, e.g. `customer-ended-call`, `silence-timeout`)."""

    assistance_type: AssistanceType = "ai"
    assistance_id: str = NIL_ID
    ai_engine_model: str = ""
    ai_tts_type: str = ""
    ai_tts_voice_id: str = ""
    ai_stt_type: str = ""
    ai_vad_config: VadConfig | None = None
    ai_smart_turn_enabled: bool = True
    parameter: dict[str, Any] = Field(default_factory=dict)
    activeflow_id: str = NIL_ID
    reference_type: AIcallReferenceType = ""
    reference_id: str = NIL_ID
    confbridge_id: str = NIL_ID
    current_member_id: str = NIL_ID
    status: AIcallStatus = "initiating"
    stt_language: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    ended_reason: str = ""
    tm_end: UtcTime = NOT_YET
    # flowengine (docs/ai.md): per-call variables (Vapi variableValues), the post-call analysis
    # (summary, structured data, success evaluation), usage (tokens, characters, seconds) and costs
    # (Vapi costBreakdown and VoiceOS cost_breakdown).
    variable_values: dict[str, Any] = Field(default_factory=dict)
    analysis: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    costs: dict[str, Any] | None = None


class AIcallRepository(OwnedRepository[AIcall]):
    resource = "aicall"
    table = aicalls
    record_type = AIcall
    filterable = ("status", "reference_type", "reference_id", "activeflow_id", "assistance_id")

    async def terminate(self, customer_id: str, id: str, *, reason: str = "",
                        metadata: dict[str, Any] | None = None) -> tuple[AIcall, bool]:
        """Status `terminated` with tm_end and ended_reason (and `metadata` when given) unless already
        terminated. Returns the record and whether this call terminated it."""
        extra: dict[str, Any] = {} if metadata is None else {"metadata": metadata}
        try:
            done = await self.update(
                customer_id,
                id,
                when={"status": LIVE_STATUSES},
                status="terminated",
                ended_reason=reason,
                tm_end=self._access.clock(),
                **extra,
            )
        except PreconditionFailedError:
            return await self.get(customer_id, id), False
        return done, True

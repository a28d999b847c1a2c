"""AI configurations; their `engine_key` and tool secrets are encrypted at rest and read only by
`get_engine_key` and `get_tool_secrets`."""
from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import Column, Table, Text

from flowengine.store.aifeatures import FirstMessageMode, VoicemailDetection, normalize_analysis_plan
from flowengine.store.crypto import SecretBox
from flowengine.store.database import Database
from flowengine.store.records import NIL_ID, CustomerRecord
from flowengine.store.repository import ScopedRepository
from flowengine.store.schema import flag, integer, json, listing_index, metadata, ref, resource_columns, text
from flowengine.store.table import When
from flowengine.store.timestamps import Clock

AIType = Literal["normal", "insight"]

ais = Table(
    "ais",
    metadata,
    *resource_columns(),
    text("name"),
    text("detail"),
    text("type"),
    flag("is_insight_active"),
    text("engine_model"),
    json("parameter"),
    Column("engine_key_enc", Text, nullable=True),
    ref("rag_id"),
    text("init_prompt"),
    ref("current_prompt_history_id"),
    text("tts_type"),
    text("tts_voice_id"),
    text("stt_type"),
    text("stt_language"),
    json("vad_config", nullable=True),
    flag("smart_turn_enabled"),
    flag("auto_aicall_audit_enabled"),
    json("tool_names"),
    json("tools"),
    text("direct_hash"),
    # call rules (migration 2)
    text("first_message"),
    text("first_message_mode"),
    json("end_call_phrases"),
    text("end_call_message"),
    integer("silence_timeout_seconds"),
    integer("max_duration_seconds"),
    json("voicemail_detection", nullable=True),
    text("voicemail_message"),
    json("analysis_plan", nullable=True),
    # declared function tools' server.secret by tool name, one encrypted JSON object (migration 7)
    Column("tool_secrets_enc", Text, nullable=True),
    listing_index("ais"),
)


class VadConfig(BaseModel):
    """AIManagerVADConfig: unset fields mean the defaults (0.7 / 0.2 / 0.2 / 0.6)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: float | None = Field(None, ge=0, le=1)
    start_secs: float | None = Field(None, ge=0, le=30)
    stop_secs: float | None = Field(None, ge=0, le=30)
    min_volume: float | None = Field(None, ge=0, le=1)


class AI(CustomerRecord):
    """VoIPBIN's AI (seed `AI`, reference 4.1) without `engine_key`: the key is write-only,
    so the record never carries it; `repr`, logs and API views cannot leak it."""

    name: str = ""
    detail: str = ""
    type: AIType = "normal"
    is_insight_active: bool = False
    engine_model: str = ""
    parameter: dict[str, Any] = Field(default_factory=dict)
    rag_id: str = NIL_ID
    init_prompt: str = ""
    current_prompt_history_id: str = NIL_ID
    tts_type: str = ""
    tts_voice_id: str = ""
    stt_type: str = ""
    stt_language: str = ""
    vad_config: VadConfig | None = None
    smart_turn_enabled: bool = True  # the seed documents no default; see docs/decisions.md "Turns"
    auto_aicall_audit_enabled: bool = False
    tool_names: list[str] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    """Tools the assistant declares (Vapi kinds: function, transferCall, dtmf, endCall), checked by
    flowengine.ai.tools.declared; never with a `server.secret` (secrets are write-only)."""
    direct_hash: str = ""
    # Call rules, from the Vapi assistant (docs/ai.md "Call rules"); 0 seconds = no limit.
    first_message: str = ""
    first_message_mode: FirstMessageMode = "assistant-speaks-first"
    end_call_phrases: list[str] = Field(default_factory=list)
    end_call_message: str = ""
    silence_timeout_seconds: int = Field(0, ge=0, le=3600)
    max_duration_seconds: int = Field(0, ge=0, le=43200)
    voicemail_detection: VoicemailDetection | None = None
    voicemail_message: str = ""
    analysis_plan: dict[str, Any] | None = None  # Vapi analysisPlan, normalised (flowengine.store.aifeatures)

    @field_validator("end_call_phrases")
    @classmethod
    def _phrases(cls, value: list[str]) -> list[str]:
        phrases = [p.strip() for p in value]
        if any(not p for p in phrases):
            raise ValueError("an end-call phrase must not be empty")
        return phrases

    @field_validator("tools")
    @classmethod
    def _no_secrets(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, tool in enumerate(value):
            server = tool.get("server")
            if isinstance(server, dict) and server.get("secret"):
                raise ValueError(f"tools[{i}].server.secret: tool secrets are write-only, kept apart from the "
                                 "AI record (AIRepository tool_secrets)")
        return value

    @field_validator("analysis_plan", mode="before")
    @classmethod
    def _plan(cls, value: Any) -> dict[str, Any] | None:
        return normalize_analysis_plan(value)


class AIRepository(ScopedRepository[AI]):
    resource = "ai"
    table = ais
    record_type = AI
    filterable = ("type", "engine_model", "name")

    def __init__(self, db: Database, clock: Clock, secrets: SecretBox) -> None:
        super().__init__(db, clock)
        self._secrets = secrets

    def _encrypt(self, engine_key: str | SecretStr) -> str | None:
        plain = engine_key.get_secret_value() if isinstance(engine_key, SecretStr) else engine_key
        return self._secrets.encrypt(plain, purpose="ai engine_key") if plain else None

    def _encrypt_tools(self, secrets: Mapping[str, str | SecretStr]) -> str | None:
        plain = {name: s.get_secret_value() if isinstance(s, SecretStr) else s for name, s in secrets.items()}
        plain = {name: s for name, s in plain.items() if s}
        return self._secrets.encrypt(jsonlib.dumps(plain), purpose="ai tool secrets") if plain else None

    async def create(
        self, record: AI, *, engine_key: str | SecretStr = "", tool_secrets: Mapping[str, str | SecretStr] | None = None
    ) -> AI:
        """Stores the AI; a non-empty engine_key or tool secret needs store.secret_key (else
        EncryptionKeyMissingError). `tool_secrets`: declared tool name -> its server.secret."""
        return await self._insert(record, {"engine_key_enc": self._encrypt(engine_key),
                                           "tool_secrets_enc": self._encrypt_tools(tool_secrets or {})})

    async def update(
        self,
        customer_id: str,
        id: str,
        /,
        *,
        expected_revision: int | None = None,
        when: When | None = None,
        engine_key: str | SecretStr | None = None,
        tool_secrets: Mapping[str, str | SecretStr] | None = None,
        **changes: Any,
    ) -> AI:
        """As ScopedRepository.update; `engine_key=None` keeps the key, `""` removes it; `tool_secrets=None`
        keeps the tool secrets, a mapping replaces all of them (`{}` removes them)."""
        extra: dict[str, Any] = {}
        if engine_key is not None:
            extra["engine_key_enc"] = self._encrypt(engine_key)
        if tool_secrets is not None:
            extra["tool_secrets_enc"] = self._encrypt_tools(tool_secrets)
        return await self._access.modify(
            self._scope(customer_id), id, changes, expected_revision=expected_revision, when=when, extra=extra or None
        )

    async def get_engine_key(self, customer_id: str, id: str) -> SecretStr | None:
        """The decrypted engine key (None if the AI has none): for the LLM provider, never for a response."""
        token = await self._access.read_column(self._scope(customer_id), id, "engine_key_enc")
        if token is None:
            return None
        return self._secrets.decrypt(token, purpose=f"engine_key of ai {id}")

    async def get_tool_secrets(self, customer_id: str, id: str) -> dict[str, SecretStr]:
        """The decrypted secrets of the AI's declared function tools, by tool name: for signing tool requests,
        never for a response."""
        token = await self._access.read_column(self._scope(customer_id), id, "tool_secrets_enc")
        if token is None:
            return {}
        plain = self._secrets.decrypt(token, purpose=f"tool secrets of ai {id}").get_secret_value()
        return {name: SecretStr(secret) for name, secret in jsonlib.loads(plain).items()}

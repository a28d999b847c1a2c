"""Migration 1: the initial schema (customers, access keys, flows, activeflows, calls, AIs,
AI calls, AI messages, teams, the key check). A frozen copy: later changes are new migrations."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration
from flowengine.store.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _common(scoped: bool = True) -> list[Any]:
    columns: list[Any] = [Column("id", String(36), primary_key=True)]
    if scoped:
        columns.append(Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False))
    columns += [
        Column("revision", Integer, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Column("tm_update", UtcDateTime, nullable=False),
        Column("tm_delete", UtcDateTime, nullable=False),
    ]
    return columns


def _resource(md: MetaData, name: str, *columns: Any, scoped: bool = True) -> Table:
    extra: list[Any] = [Index(f"ix_{name}_listing", "customer_id", "tm_delete", "tm_create", "id")] if scoped else []
    return Table(name, md, *_common(scoped), *columns, *extra)


def _t(name: str) -> Column[Any]:
    return Column(name, Text, nullable=False)


def _ix(name: str) -> Column[Any]:
    return Column(name, Text, nullable=False, index=True)


def _b(name: str) -> Column[Any]:
    return Column(name, Boolean, nullable=False)


def _j(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, JSON(none_as_null=True), nullable=nullable)


def _ts(name: str) -> Column[Any]:
    return Column(name, UtcDateTime, nullable=False)


def schema() -> MetaData:
    md = MetaData(naming_convention=NAMING)
    _resource(
        md, "customers",
        _t("name"), _t("detail"), _t("email"), _t("phone_number"), _t("address"), _t("webhook_method"),
        _t("webhook_uri"), Column("webhook_secret_enc", Text, nullable=True), _t("status"),
        scoped=False,
    )
    _resource(
        md, "accesskeys",
        _t("name"), _t("detail"), _ix("token_prefix"), _t("token_hash"), _t("token_salt"), _b("admin"),
        _ts("tm_expire"),
    )
    _resource(
        md, "flows",
        _t("type"), _t("name"), _t("detail"), _b("persist"), _j("actions"), _j("variables"),
        _t("on_complete_flow_id"), _t("direct_hash"),
    )
    _resource(
        md, "activeflows",
        _t("flow_id"), _t("status"), _t("reference_type"), _ix("reference_id"), _t("reference_activeflow_id"),
        _t("on_complete_flow_id"), _t("webhook_uri"), _t("webhook_method"), _j("stack_map"),
        _t("current_stack_id"), _j("current_action"), _t("forward_stack_id"), _t("forward_action_id"),
        Column("execute_count", Integer, nullable=False), _j("executed_actions"), _j("variables"),
        _t("ended_reason"), _ts("tm_end"),
    )
    _resource(
        md, "calls",
        _t("owner_type"), _t("owner_id"), _t("flow_id"), _ix("activeflow_id"), _t("type"), _t("master_call_id"),
        _j("chained_call_ids"), _t("recording_id"), _j("recording_ids"), _t("groupcall_id"), _j("source"),
        _j("destination"), _t("status"), _j("action"), _t("direction"), _t("mute_direction"), _t("hangup_by"),
        _t("hangup_reason"), _j("metadata", nullable=True), _ix("channel_id"), _ts("tm_ringing"),
        _ts("tm_progressing"), _ts("tm_hangup"),
    )
    _resource(
        md, "ais",
        _t("name"), _t("detail"), _t("type"), _b("is_insight_active"), _t("engine_model"), _j("parameter"),
        Column("engine_key_enc", Text, nullable=True), _t("rag_id"), _t("init_prompt"),
        _t("current_prompt_history_id"), _t("tts_type"), _t("tts_voice_id"), _t("stt_type"), _t("stt_language"),
        _j("vad_config", nullable=True), _b("smart_turn_enabled"), _b("auto_aicall_audit_enabled"),
        _j("tool_names"), _t("direct_hash"),
    )
    _resource(
        md, "aicalls",
        _t("assistance_type"), _t("assistance_id"), _t("ai_engine_model"), _t("ai_tts_type"),
        _t("ai_tts_voice_id"), _t("ai_stt_type"), _j("ai_vad_config", nullable=True),
        _b("ai_smart_turn_enabled"), _j("parameter"), _ix("activeflow_id"), _t("reference_type"),
        _ix("reference_id"), _t("confbridge_id"), _t("current_member_id"), _t("status"), _t("stt_language"),
        _j("metadata"), _t("ended_reason"), _ts("tm_end"),
    )
    _resource(
        md, "aimessages",
        _ix("aicall_id"), _t("activeflow_id"), _t("active_ai_id"), _t("direction"), _t("role"), _t("content"),
        _j("tool_calls"), _t("tool_call_id"), _t("in_reply_to_message_id"),
    )
    _resource(
        md, "teams",
        _t("name"), _t("detail"), _t("start_member_id"), _j("members"), _j("parameter"), _t("direct_hash"),
    )
    Table(
        "flowengine_keycheck",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("token", Text, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
    )
    return md


def upgrade(conn: Connection) -> None:
    schema().create_all(conn, checkfirst=False)


MIGRATION = Migration(1, "initial schema", upgrade)

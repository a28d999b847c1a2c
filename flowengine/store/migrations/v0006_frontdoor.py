"""Migration 6: the Vapi and VoiceOS front doors' own records: `frontcalls` (a Vapi call or a VoiceOS
conversation around one AI call) and `agents` (a VoiceOS agent's configuration beside its AI).
A frozen copy: never edit."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration
from flowengine.store.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _resource(md: MetaData, name: str, *columns: Any) -> Table:
    return Table(
        name, md,
        Column("id", String(36), primary_key=True),
        Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Column("tm_update", UtcDateTime, nullable=False),
        Column("tm_delete", UtcDateTime, nullable=False),
        *columns,
        Index(f"ix_{name}_listing", "customer_id", "tm_delete", "tm_create", "id"),
    )


def _t(name: str, index: bool = False) -> Column[Any]:
    return Column(name, Text, nullable=False, index=index)


def _j(name: str) -> Column[Any]:
    return Column(name, JSON(none_as_null=True), nullable=False)


def schema() -> MetaData:
    md = MetaData(naming_convention=NAMING)
    Table("customers", md, Column("id", String(36), primary_key=True))  # referenced only
    _resource(
        md, "frontcalls",
        _t("kind"), _t("name"), _t("status"), _t("ended_reason"), _t("ai_id"), _t("aicall_id", index=True),
        _t("call_id", index=True), _t("from_number"), _t("to_number"), _j("config"), _j("metadata"),
        Column("tm_start", UtcDateTime, nullable=False), Column("tm_end", UtcDateTime, nullable=False),
    )
    _resource(md, "agents", _t("ai_id"), _j("config"), Column("headers_enc", Text, nullable=True))
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["frontcalls"], md.tables["agents"]], checkfirst=False)


MIGRATION = Migration(6, "front doors: frontcalls and agents", upgrade)

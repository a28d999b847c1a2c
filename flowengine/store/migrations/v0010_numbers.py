"""Migration 10: numbers (`numbers`, VoIPBIN's Number): a customer's phone number and the flow its inbound
calls run, with a unique index keeping one live row per number across customers. A frozen copy: never edit."""
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


def _t(name: str) -> Column[Any]:
    return Column(name, Text, nullable=False)


def schema() -> MetaData:
    md = MetaData(naming_convention=NAMING)
    Table("customers", md, Column("id", String(36), primary_key=True))  # referenced only
    Table(
        "numbers", md,
        Column("id", String(36), primary_key=True),
        Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Column("tm_update", UtcDateTime, nullable=False),
        Column("tm_delete", UtcDateTime, nullable=False),
        _t("number"), _t("type"), _t("call_flow_id"), _t("message_flow_id"), _t("name"), _t("detail"),
        _t("status"),
        Column("t38_enabled", Boolean, nullable=False),
        Column("emergency_enabled", Boolean, nullable=False),
        Column("metadata", JSON(none_as_null=True), nullable=False),
        Column("tm_purchase", UtcDateTime, nullable=False),
        Column("tm_renew", UtcDateTime, nullable=False),
        Index("ix_numbers_listing", "customer_id", "tm_delete", "tm_create", "id"),
        Index("ix_numbers_number", "number", "tm_delete", unique=True),
    )
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["numbers"]], checkfirst=False)


MIGRATION = Migration(10, "numbers", upgrade)

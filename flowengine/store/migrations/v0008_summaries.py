"""Migration 8: AI summaries (`summaries`, VoIPBIN's Summary of reference 4.9), with a unique index that
keeps one live summary per (customer, reference_id, language). A frozen copy: never edit."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table, Text
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
        "summaries", md,
        Column("id", String(36), primary_key=True),
        Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Column("tm_update", UtcDateTime, nullable=False),
        Column("tm_delete", UtcDateTime, nullable=False),
        _t("activeflow_id"), _t("on_end_flow_id"), _t("reference_type"), _t("reference_id"), _t("status"),
        _t("language"), _t("content"), _t("error"),
        Index("ix_summaries_listing", "customer_id", "tm_delete", "tm_create", "id"),
        Index("ix_summaries_reference", "customer_id", "reference_id", "language", "tm_delete", unique=True),
    )
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["summaries"]], checkfirst=False)


MIGRATION = Migration(8, "AI summaries", upgrade)

"""Migration 13: call timelines (`call_timelines`): one call's flow actions, AI turns with their latencies,
barge-ins, tool calls, webhooks sent and its end, in order. A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration
from flowengine.store.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema() -> MetaData:
    md = MetaData(naming_convention=NAMING)
    Table(
        "call_timelines", md,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("customer_id", String(36), nullable=False),
        Column("call_id", String(36), nullable=False),
        Column("tm", UtcDateTime, nullable=False),
        Column("type", Text, nullable=False),
        Column("data", JSON(none_as_null=True), nullable=False),
        Index("ix_call_timelines_call_id", "call_id", "id"),
    )
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["call_timelines"]], checkfirst=False)


MIGRATION = Migration(13, "call timelines", upgrade)

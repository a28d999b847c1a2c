"""Migration 9: the webhook outbox (`webhook_outbox`): webhook bodies waiting for their receivers, delivered
lane by lane in id order, leased by the node that sends them. A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text
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
        "webhook_outbox", md,
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("lane", Text, nullable=False),
        Column("customer_id", String(36), nullable=False),
        Column("event_type", Text, nullable=False),
        Column("url", Text, nullable=False),
        Column("method", String(8), nullable=False),
        Column("body", Text, nullable=False),
        Column("signed", Boolean, nullable=False),
        Column("status", String(8), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt_at", UtcDateTime, nullable=False),
        Column("claimed_until", UtcDateTime, nullable=False),
        Column("last_error", Text, nullable=False),
        Column("tm_create", UtcDateTime, nullable=False),
        Index("ix_webhook_outbox_lane", "lane", "status", "id"),
        Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
    )
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["webhook_outbox"]], checkfirst=False)


MIGRATION = Migration(9, "webhook outbox", upgrade)

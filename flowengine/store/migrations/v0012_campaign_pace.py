"""Migration 12: `campaign_pace`, each campaign's next free origination time, shared by every engine node that
dials the campaign (claims reserve it under the campaign's row lock). A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import Column, ForeignKey, MetaData, String, Table
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
    Table("campaigns", md, Column("id", String(36), primary_key=True))  # referenced only
    Table(
        "campaign_pace", md,
        Column("campaign_id", String(36), ForeignKey("campaigns.id"), primary_key=True),
        Column("next_dial_at", UtcDateTime, nullable=False),
    )
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["campaign_pace"]], checkfirst=False)


MIGRATION = Migration(12, "campaign_pace", upgrade)

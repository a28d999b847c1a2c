"""Migration 11: engine nodes (`nodes`: id, ARI app, start, lease, status) and the owning node (`node_id`) of
every live record: calls, activeflows, AI calls and campaign dials. A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, Text
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration
from flowengine.store.migrations.v0002_ai_call_rules import add_columns
from flowengine.store.timestamps import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OWNED = ("calls", "activeflows", "aicalls", "campaigncalls")
"""Tables whose rows name the node that runs them; rows older than this migration name none ('')."""


def schema() -> MetaData:
    md = MetaData(naming_convention=NAMING)
    Table(
        "nodes", md,
        Column("id", String(128), primary_key=True),
        Column("ari_app", Text, nullable=False),
        Column("host", Text, nullable=False),
        Column("status", String(16), nullable=False),
        Column("tm_start", UtcDateTime, nullable=False),
        Column("tm_lease", UtcDateTime, nullable=False),
        Index("ix_nodes_ari_app", "ari_app"),
    )
    return md


def upgrade(conn: Connection) -> None:
    md = schema()
    md.create_all(conn, tables=[md.tables["nodes"]], checkfirst=False)
    for table in OWNED:
        add_columns(conn, table, (("node_id", String(128), "''"),))
        conn.exec_driver_sql(f"CREATE INDEX ix_{table}_node_id ON {table} (node_id)")


MIGRATION = Migration(11, "nodes and the owning node of live records", upgrade)

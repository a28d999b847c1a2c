"""Migration 2: call rules on AIs (first message, end-call phrases and message, silence and duration
limits, voicemail detection and message, post-call analysis plan). A frozen copy: never edit."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, Text
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from flowengine.store.migrations import Migration

# name, type, NOT NULL default for the rows that exist (None: nullable, no default)
COLUMNS: tuple[tuple[str, TypeEngine[Any], str | None], ...] = (
    ("first_message", Text(), "''"),
    ("first_message_mode", Text(), "'assistant-speaks-first'"),
    ("end_call_phrases", JSON(), "'[]'"),
    ("end_call_message", Text(), "''"),
    ("silence_timeout_seconds", Integer(), "0"),
    ("max_duration_seconds", Integer(), "0"),
    ("voicemail_detection", JSON(), None),
    ("voicemail_message", Text(), "''"),
    ("analysis_plan", JSON(), None),
)


def add_columns(conn: Connection, table: str, columns: tuple[tuple[str, TypeEngine[Any], str | None], ...]) -> None:
    for name, type_, default in columns:
        kind = type_.compile(dialect=conn.dialect)
        rest = "NULL" if default is None else f"NOT NULL DEFAULT {default}"
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind} {rest}")


def upgrade(conn: Connection) -> None:
    add_columns(conn, "ais", COLUMNS)


MIGRATION = Migration(2, "AI call rules", upgrade)

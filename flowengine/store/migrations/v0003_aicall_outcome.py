"""Migration 3: what an AI call leaves behind: per-call variable values, post-call analysis, usage
and costs. A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration
from flowengine.store.migrations.v0002_ai_call_rules import add_columns


def upgrade(conn: Connection) -> None:
    add_columns(conn, "aicalls", (
        ("variable_values", JSON(), "'{}'"),
        ("analysis", JSON(), None),
        ("usage", JSON(), None),
        ("costs", JSON(), None),
    ))


MIGRATION = Migration(3, "AI call analysis, usage and costs", upgrade)

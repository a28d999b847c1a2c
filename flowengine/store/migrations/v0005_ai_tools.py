"""Migration 5: AIs keep the tools an assistant declares (`ais.tools`, a JSON list; `[]` for existing AIs).
A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import JSON
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration


def upgrade(conn: Connection) -> None:
    kind = JSON().compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE ais ADD COLUMN tools {kind} NOT NULL DEFAULT '[]'")


MIGRATION = Migration(5, "AI declared tools", upgrade)

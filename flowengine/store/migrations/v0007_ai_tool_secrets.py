"""Migration 7: AIs keep their declared function tools' `server.secret`s, encrypted (`ais.tool_secrets_enc`:
one token over a JSON object of tool name -> secret; NULL for existing AIs). A frozen copy: never edit."""
from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.engine import Connection

from flowengine.store.migrations import Migration


def upgrade(conn: Connection) -> None:
    kind = Text().compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE ais ADD COLUMN tool_secrets_enc {kind} NULL")


MIGRATION = Migration(7, "AI tool secrets", upgrade)

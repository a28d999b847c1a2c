"""Doctor check of the store: reachable, and its schema at the head version this engine expects."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from flowengine.config import StoreConfig
from flowengine.doctor.report import Check
from flowengine.store.database import Database
from flowengine.store.errors import StoreError
from flowengine.store.migrate import current_version, head_version

START_HINT = "start the engine once (`flowengine serve --config FILE`: it migrates the store at start; nodes take turns)"


def _exists(path: str) -> bool:
    return path == ":memory:" or Path(path).exists()


async def check_store(cfg: StoreConfig) -> Check:
    try:
        url = make_url(cfg.url)
    except Exception:  # noqa: BLE001 - reported as the check's finding
        return Check.failed("store", "store.url is not a database URL", "store.url: sqlite+aiosqlite:///FILE or "
                            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB")
    if url.get_backend_name() == "sqlite" and url.database and not _exists(url.database):
        return Check.failed("store", f"no database file {url.database}", START_HINT)
    try:
        db = Database(cfg.url)
    except StoreError as exc:
        return Check.failed("store", str(exc), "store.url: sqlite+aiosqlite:///FILE or "
                            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB")
    try:
        version = await current_version(db)
    except Exception as exc:  # noqa: BLE001 - any driver error means the same: no answer
        return Check.failed("store", f"{db.safe_url} does not answer: {exc}",
                            "check store.url (host, port, user, password, database) and that the database server runs")
    finally:
        await db.dispose()
    head = head_version()
    where = db.safe_url
    if version == head:
        return Check.ok("store", f"{where} at schema version {head}")
    if version > head:
        return Check.failed("store", f"{where} is at schema version {version}, newer than this engine ({head})",
                            "upgrade flowengine on this host to the version the other nodes run")
    return Check.failed("store", f"{where} is at schema version {version}, this engine needs {head} (not migrated)",
                        START_HINT)

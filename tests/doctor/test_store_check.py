"""The doctor's store check on both backends: an empty database is named not migrated, a migrated one passes,
a database that does not answer is named without its password; nothing is created or migrated by the check."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.config import StoreConfig
from flowengine.doctor.store import check_store
from flowengine.store import Store
from flowengine.store.migrate import head_version
from tests.store.pgserver import PostgresServer, _free_port


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_store_check_names_an_unmigrated_database(backend: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'doctor.db'}"
        missing = await check_store(StoreConfig(url=url))
        assert missing.status == "failed" and "no database file" in missing.detail
        assert not (tmp_path / "doctor.db").exists()
        (tmp_path / "doctor.db").touch()
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = await server.create_database(f"doctor_{tmp_path.name[-20:]}".replace("-", "_").lower())
    empty = await check_store(StoreConfig(url=url))
    assert empty.status == "failed" and f"version 0, this engine needs {head_version()}" in empty.detail
    assert await check_store(StoreConfig(url=url)) == empty  # the check migrated nothing
    store = await Store.open(url)
    await store.aclose()
    assert (await check_store(StoreConfig(url=url))).status == "ok"


async def test_a_silent_database_is_named_without_its_password() -> None:
    url = f"postgresql+asyncpg://flowengine:hunter2-secret@127.0.0.1:{_free_port()}/flowengine"
    check = await check_store(StoreConfig(url=url))
    assert check.status == "failed" and "does not answer" in check.detail
    assert "hunter2-secret" not in check.detail + check.fix and "***" in check.detail

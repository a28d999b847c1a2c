"""Schemathesis over the whole API: only documented status codes, never a 500, on generated input."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr

from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.store import Customer, Store, generate_secret_key
from tests.support import eventually

ADMIN = "schemathesis-admin-key-0123456789"


class ServerThread:
    """The API on its own loop and store in a thread, so the synchronous schemathesis run can call it."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.ready = threading.Event()
        self.token = ""
        self.port = 0
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{self.db}", secret_keys=[generate_secret_key()])
        customer = await store.customers.create(Customer(name="fuzz"))
        self.token = (await store.accesskeys.issue(customer.id)).token.get_secret_value()
        app = create_app(ApiDeps(store=store, admin_key=SecretStr(ADMIN)))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                                    lifespan="off", access_log=False))
        task = asyncio.ensure_future(self.server.serve())
        await eventually(lambda: self.server.started, what="the API server listening", interval=0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.ready.set()
        await task
        await store.aclose()

    def __enter__(self) -> Self:
        self.thread.start()
        assert self.ready.wait(30), "the API server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("fuzz") / "api.db") as running:
        yield running


@schemathesis.check
def never_500(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> bool:
    """503 (no engine behind this API: nothing dials) is documented; an unhandled error never is."""
    assert response.status_code != 500, f"500 on {case.method} {case.path}: {response.text[:500]}"
    return True


def test_every_operation(server: ServerThread) -> None:
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{server.port}/openapi.json")
    checks = [never_500, schemathesis.checks.status_code_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:
        token = ADMIN if operation.path.startswith(("/v1.0/customers", "/v1.0/accesskeys")) else server.token
        fuzz(operation, {"Authorization": f"Bearer {token}"}, checks)


def fuzz(operation: Any, headers: dict[str, str], checks: list[Any]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()

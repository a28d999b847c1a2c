"""The API inside `flowengine serve`: deps from the running engine, webhooks, uvicorn on the engine's loop."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import uvicorn

from flowengine.ai.placedcalls.service import PlacedCalls
from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps
from flowengine.tasks import TaskOwner

if TYPE_CHECKING:
    from flowengine.runtime import Engine

log = logging.getLogger(__name__)


class ApiStartError(RuntimeError):
    """The REST API could not start serving (its port is taken, say)."""


class ApiServer:
    """Serves the API of `engine` on config.api.host:port as a task of the running loop."""

    def __init__(self, engine: Engine) -> None:
        assert engine.store is not None, "the API needs the engine's store"
        cfg = engine.config.api
        self.engine = engine
        assert engine.webhooks is not None, "the engine starts its webhook dispatcher with the store"
        self.webhooks = engine.webhooks  # the engine's: listening since start-up, closed by the engine
        ai = engine.aicalls
        placed = (PlacedCalls(engine.store, engine.events, engine.flow_service, ai)
                  if engine.flow_service is not None and ai is not None else None)
        self.deps = ApiDeps(store=engine.store, events=engine.events, admin_key=cfg.admin_key, engine=engine,
                            resources=engine.resources, webhooks=self.webhooks, placed_calls=placed,
                            max_body_bytes=cfg.max_body_bytes, cluster=engine.forwarder)
        if engine.forwarder is not None:
            engine.forwarder.serve(self.deps)  # other nodes' requests on this node's live records
        self.app = create_app(self.deps)
        config = uvicorn.Config(self.app, host=cfg.host, port=cfg.port, log_config=None, lifespan="off",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self._tasks = TaskOwner("API server")  # uvicorn's serving loop
        self._failure: ApiStartError | None = None

    async def start(self) -> None:
        serving = self._tasks.start(self._serve(), name="api-server")
        async with asyncio.timeout(10):
            while not self.server.started:
                if serving.done():
                    serving.result()
                    raise self._failure or ApiStartError("the API server stopped while starting")
                await asyncio.sleep(0.02)
        log.info("REST API on http://%s:%d/v1.0", self.engine.config.api.host, self.port)

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit as exc:  # uvicorn exits the process when it cannot listen: the engine decides, not it
            cfg = self.engine.config.api
            self._failure = ApiStartError(f"REST API on {cfg.host}:{cfg.port}: {exc.__context__ or exc}")

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.engine.config.api.port

    async def aclose(self) -> None:
        self.server.should_exit = True
        await self._tasks.aclose(timeout=5)
        await self.deps.tasks.aclose(timeout=10)
        if self.deps.placed_calls is not None:
            await self.deps.placed_calls.aclose()


"""The API inside `flowengine serve`: deps from the running engine, webhooks, uvicorn on the engine's loop."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import uvicorn

from flowengine.ai.aicall import AICallService
from flowengine.ai.placedcalls.service import PlacedCalls
from flowengine.api.app import create_app
from flowengine.api.deps import ApiDeps

if TYPE_CHECKING:
    from flowengine.runtime import Engine

log = logging.getLogger(__name__)


class ApiServer:
    """Serves the API of `engine` on config.api.host:port as a task of the running loop."""

    def __init__(self, engine: Engine) -> None:
        assert engine.store is not None, "the API needs the engine's store"
        cfg = engine.config.api
        self.engine = engine
        assert engine.webhooks is not None, "the engine starts its webhook dispatcher with the store"
        self.webhooks = engine.webhooks  # the engine's: listening since start-up, closed by the engine
        ai = engine.services.ai
        placed = (PlacedCalls(engine.store, engine.events, engine.flow_service, ai)
                  if engine.flow_service is not None and isinstance(ai, AICallService) else None)
        self.deps = ApiDeps(store=engine.store, events=engine.events, admin_key=cfg.admin_key, engine=engine,
                            resources=engine.resources, webhooks=self.webhooks, placed_calls=placed)
        self.app = create_app(self.deps)
        config = uvicorn.Config(self.app, host=cfg.host, port=cfg.port, log_config=None, lifespan="off",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self.server.serve())
        async with asyncio.timeout(10):
            while not self.server.started:
                if self._task.done():
                    self._task.result()
                    raise RuntimeError("the API server stopped while starting")
                await asyncio.sleep(0.02)
        log.info("REST API on http://%s:%d/v1.0", self.engine.config.api.host, self.port)

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.engine.config.api.port

    async def aclose(self) -> None:
        if self._task is not None:
            self.server.should_exit = True
            await asyncio.wait({self._task}, timeout=5)
            self._task.cancel()
            self._task = None
        await self.deps.tasks.aclose(timeout=10)
        if self.deps.placed_calls is not None:
            await self.deps.placed_calls.aclose()


"""HTTP server of rendered audio files, fetched by Asterisk's media cache (`sound:http://...`)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from aiohttp import web

log = logging.getLogger(__name__)

SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}\.(wav|wav16|sln|sln16|gsm|ulaw)$")


class MediaServer:
    """Serves `directory/<name>` at `/media/<name>`; works when Asterisk runs on another host."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0, advertise_host: str = "") -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.advertise_host = advertise_host or host
        self.requests = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        app = web.Application()
        app.router.add_get("/media/{name}", self._get)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        log.info("media server on http://%s:%d/media/", self.host, self.port)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, name: str) -> str:
        return f"http://{self.advertise_host}:{self.port}/media/{name}"

    async def _get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = self.directory / name
        if not SAFE_NAME.match(name) or not path.is_file():
            raise web.HTTPNotFound(text=f"no media {name!r}")
        self.requests += 1
        return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})

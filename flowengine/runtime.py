"""The running engine: private Asterisk (optional), ARI client, AMI client and ARI app as one unit."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.app import AriApp, CallHandler
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk
from flowengine.asterisk.routing import RouteTable
from flowengine.config import AsteriskConfig, Config

log = logging.getLogger(__name__)


def asterisk_config_for(info: InstanceInfo, base: AsteriskConfig) -> AsteriskConfig:
    """The config section pointing at a private instance."""
    return base.model_copy(update={
        "ari_url": info.ari_url,
        "ari_username": info.ari_username,
        "ari_password": SecretStr(info.ari_password),
        "app": info.app,
        "ami_host": info.host,
        "ami_port": info.ami_port,
        "ami_username": info.ami_username,
        "ami_secret": SecretStr(info.ami_secret),
    })


@dataclass
class Engine:
    config: Config
    handler: CallHandler
    private: PrivateAsterisk | None = None
    ari: AriClient | None = None
    ami: AmiClient | None = None
    app: AriApp | None = None

    async def start(self, extra_dialplan: str = "") -> None:
        cfg = self.config.asterisk
        if cfg.private_dir:
            self.private = PrivateAsterisk(Path(cfg.private_dir), app=cfg.app, extra_dialplan=extra_dialplan)
            info = await asyncio.to_thread(self.private.start)
            cfg = asterisk_config_for(info, cfg)
            self.config = self.config.model_copy(update={"asterisk": cfg})
        self.ari = AriClient(cfg.ari_url, cfg.ari_username, cfg.ari_password.get_secret_value(), cfg.app,
                             reconnect_min=cfg.reconnect_min_s, reconnect_max=cfg.reconnect_max_s)
        try:
            await self.ari.start()
            if cfg.ami_secret.get_secret_value():
                self.ami = AmiClient(cfg.ami_host, cfg.ami_port, cfg.ami_username, cfg.ami_secret.get_secret_value())
                await self.ami.connect()
        except BaseException:
            await self.aclose()
            raise
        routes = RouteTable(self.config.routes.numbers, self.config.routes.default_flow)
        self.app = AriApp(self.ari, routes, self.handler)
        log.info("engine ready: ARI app %r on %s (Asterisk %s)", cfg.app, cfg.ari_url, self.ari.asterisk_version)

    async def aclose(self) -> None:
        if self.app is not None:
            await self.app.aclose()
            self.app = None
        if self.ami is not None:
            await self.ami.aclose()
            self.ami = None
        if self.ari is not None:
            await self.ari.aclose()
            self.ari = None
        if self.private is not None:
            await asyncio.to_thread(self.private.stop)
            self.private = None


__all__ = ["Engine", "asterisk_config_for"]

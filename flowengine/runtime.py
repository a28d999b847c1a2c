"""The running engine: private Asterisk (optional), ARI/AMI clients, flows, speech, the ARI app, as one unit."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from flowengine.ai import talk  # noqa: F401  (registers the ai_talk executor)
from flowengine.ai.aicall import AICallService
from flowengine.ai.definitions import AIDirectory
from flowengine.ai.postcall.recovery import AIRecovery
from flowengine.ai.providers import ProviderPool
from flowengine.ai.sources import StoreResources
from flowengine.ai.teams import TeamDirectory
from flowengine.ai.voice.media import MediaSettings
from flowengine.api.server import ApiServer
from flowengine.api.webhooks import WebhookDispatcher, WebhookSender
from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.app import AriApp, CallHandler
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk
from flowengine.asterisk.leftovers import Leftovers, clear_leftovers, find_leftovers
from flowengine.asterisk.media_server import MediaServer
from flowengine.asterisk.routing import RouteTable
from flowengine.campaign.pacing import AsteriskCaps
from flowengine.campaign.service import CampaignService
from flowengine.config import AsteriskConfig, Config
from flowengine.events import EventBus
from flowengine.flow.callregistry import CallRegistry
from flowengine.flow.context import Services, SmtpSettings
from flowengine.flow.directory import FlowDirectory
from flowengine.flow.persistence import ActiveflowRecorder
from flowengine.flow.reconcile import hang_up_stale_calls
from flowengine.flow.service import FlowService
from flowengine.flow.speech import SpeechCache
from flowengine.store import Store

log = logging.getLogger(__name__)


async def open_store(config: Config) -> Store:
    """The store of `store.url` (SQLite files get their folder made), migrated to the head."""
    cfg = config.store
    prefix = "sqlite+aiosqlite:///"
    if cfg.url.startswith(prefix) and len(cfg.url) > len(prefix):
        Path(cfg.url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
    keys = [k.get_secret_value() for k in (cfg.secret_key, *cfg.previous_secret_keys) if k.get_secret_value()]
    return await Store.open(cfg.url, secret_keys=keys)


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
    """`handler` answers calls; without one, calls run the flows of `config.flows_dir`."""

    config: Config
    handler: CallHandler | None = None
    extra_dialplan: str = ""
    private: PrivateAsterisk | None = None
    ari: AriClient | None = None
    ami: AmiClient | None = None
    app: AriApp | None = None
    flows: FlowDirectory | None = None
    flow_service: FlowService | None = None
    media_server: MediaServer | None = None
    http: aiohttp.ClientSession | None = None
    services: Services = field(default_factory=Services)
    store: Store | None = None
    ais: AIDirectory | None = None
    teams: TeamDirectory | None = None
    providers: ProviderPool | None = None
    events: EventBus = field(default_factory=EventBus)
    resources: StoreResources | None = None
    api: ApiServer | None = None
    webhooks: WebhookDispatcher | None = None
    _warming: asyncio.Task[None] | None = None
    calls: CallRegistry | None = None
    campaigns: CampaignService | None = None
    ai_recovery: AIRecovery | None = None
    leftovers: Leftovers = field(default_factory=Leftovers)  # what this start cleared from Asterisk for a previous run

    async def speech_warmed(self) -> bool:
        """Wait for the background speech warm-up; False if there is none or it did not finish."""
        task = self._warming
        if task is None:
            return False
        await asyncio.wait([task])
        return not task.cancelled() and task.exception() is None

    async def start(self) -> None:
        try:
            await self._start_asterisk()
            if self.handler is None:
                await self._start_flows()
        except BaseException:
            await self.aclose()
            raise
        routes = RouteTable(self.config.routes.numbers, self.config.routes.default_flow)
        assert self.ari is not None
        handler = self.handler or (self.flow_service.handle_call if self.flow_service else None)
        assert handler is not None
        self.app = AriApp(self.ari, routes, handler)
        if self.config.api.enabled and self.store is not None:
            self.api = ApiServer(self)
            try:
                await self.api.start()
            except BaseException:
                await self.aclose()
                raise
        log.info("engine ready: ARI app %r on %s (Asterisk %s)", self.config.asterisk.app,
                 self.config.asterisk.ari_url, self.ari.asterisk_version)

    async def _start_asterisk(self) -> None:
        cfg = self.config.asterisk
        if cfg.private_dir:
            self.private = PrivateAsterisk(Path(cfg.private_dir), app=cfg.app, extra_dialplan=self.extra_dialplan)
            info = await asyncio.to_thread(self.private.start)
            cfg = asterisk_config_for(info, cfg)
            self.config = self.config.model_copy(update={"asterisk": cfg})
        self.ari = AriClient(cfg.ari_url, cfg.ari_username, cfg.ari_password.get_secret_value(), cfg.app,
                             reconnect_min=cfg.reconnect_min_s, reconnect_max=cfg.reconnect_max_s)
        # before our app is registered again: what Asterisk still holds for it is a dead run's
        self.leftovers = await clear_leftovers(self.ari, await find_leftovers(self.ari))
        await self.ari.start()
        if cfg.ami_secret.get_secret_value():
            self.ami = AmiClient(cfg.ami_host, cfg.ami_port, cfg.ami_username, cfg.ami_secret.get_secret_value())
            await self.ami.connect()

    async def _start_flows(self) -> None:
        cfg = self.config
        self.flows = FlowDirectory(cfg.flows_dir)
        await asyncio.to_thread(self.flows.scan)
        self.flows.start_watching()
        speech = cfg.speech
        self.media_server = MediaServer(Path(speech.cache_dir), speech.http_host, speech.http_port,
                                        speech.advertise_host)
        await self.media_server.start()
        self.http = aiohttp.ClientSession()
        smtp = cfg.smtp
        self.services = Services(
            ari=self.ari, ami=self.ami, flows=self.flows,
            speech=SpeechCache.with_voice(speech.tts, self.media_server), http=self.http,
            smtp=SmtpSettings(smtp.host, smtp.port, smtp.username, smtp.password.get_secret_value(),
                              smtp.sender, smtp.starttls),
            recordings_dir=cfg.calls.recordings_dir, endpoints=dict(cfg.outbound.endpoints),
            dial_timeout_s=cfg.outbound.dial_timeout_s, events=self.events,
        )
        self.store = await open_store(cfg)
        if cfg.api.enabled:
            # listening before the previous run is settled below, so its hangups reach customers' webhooks
            self.webhooks = WebhookDispatcher(self.store, WebhookSender(self.http), self.events)
        recorder = ActiveflowRecorder(self.store, events=self.events)
        await recorder.ensure_customer()
        await recorder.recover()
        self.services.observers.append(recorder)
        self.flow_service = FlowService(self.services)
        self.calls = CallRegistry(self.store, self.events, self.flow_service)  # every call, by id, per customer
        self.services.observers.append(self.calls.observe)
        await hang_up_stale_calls(self.store, self.events, known=self.calls.live)  # a previous run's calls
        self.services.calls = self.calls
        self.ais = AIDirectory(Path(cfg.flows_dir) / "ais")
        await asyncio.to_thread(self.ais.scan)
        # stored flows and AIs (the API's) beside the files, each visible to its own customer only
        self.teams = TeamDirectory(Path(cfg.flows_dir) / "teams", self.ais)
        await asyncio.to_thread(self.teams.scan)
        self.resources = StoreResources(self.store, self.flows, self.ais)
        await self.resources.warm()
        self.services.flows = self.resources
        media = cfg.media
        self.providers = ProviderPool()
        if cfg.speech.warm_up:
            self._warming = asyncio.create_task(self.providers.warm_up(), name="speech warm-up")
        self.services.ai = AICallService(
            self.resources, self.providers, self.ari,
            MediaSettings(format=media.format, bind_host=media.bind_host, advertise_host=media.advertise_host,
                          port_range=(media.port_min, media.port_max)),
            store=self.store, events=self.events, flow_services=self.services, teams=self.teams)
        self.services.ai.prices = cfg.prices  # what AI call usage costs
        # a previous run's AI calls end now; its summaries are written in the background
        self.ai_recovery = AIRecovery(self.store, self.events, self.services.ai, self.services.start_flow)
        await self.ai_recovery.start()
        caps = AsteriskCaps(cfg.campaign.max_concurrent_calls, cfg.campaign.max_calls_per_second)
        self.campaigns = CampaignService(self.store, self.events, self.flow_service, caps)
        await self.campaigns.start()  # settles what a previous run left open, resumes running campaigns
        log.info("%d flow(s) and %d AI(s) loaded from %s", len(self.flows.flows), len(self.ais.by_id) // 2,
                 cfg.flows_dir)

    async def aclose(self) -> None:
        if self.api is not None:
            await self.api.aclose()
            self.api = None
        if self.app is not None:
            await self.app.aclose()
            self.app = None
        if self.campaigns is not None:
            await self.campaigns.aclose()
            self.campaigns = None
        if self.ai_recovery is not None:
            await self.ai_recovery.aclose()
            self.ai_recovery = None
        if self.calls is not None:
            await self.calls.aclose()
            self.calls = None
        if self.flow_service is not None:
            await self.flow_service.aclose()
            self.flow_service = None
        if isinstance(self.services.ai if self.services else None, AICallService):
            await self.services.ai.outcomes.aclose()  # post-call analyses still running
        if self.flows is not None:
            await self.flows.aclose()
            self.flows = None
        if self.media_server is not None:
            await self.media_server.aclose()
            self.media_server = None
        if self.webhooks is not None:
            await self.webhooks.aclose()
            self.webhooks = None
        if self.http is not None:
            await self.http.close()
            self.http = None
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
            self._warming = None
        if self.providers is not None:
            await self.providers.aclose()
            self.providers = None
        if self.store is not None:
            await self.store.aclose()
            self.store = None
        if self.ami is not None:
            await self.ami.aclose()
            self.ami = None
        if self.ari is not None:
            await self.ari.aclose()
            self.ari = None
        if self.private is not None:
            await asyncio.to_thread(self.private.stop)
            self.private = None

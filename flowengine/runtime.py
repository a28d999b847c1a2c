"""The running engine: private Asterisk (optional), ARI/AMI clients, flows, speech, the ARI app, as one unit."""
from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import AsyncExitStack
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
from flowengine.api import instruments
from flowengine.api.forwarding import Forwarder, StoreOwners
from flowengine.api.server import ApiServer
from flowengine.api.timeline.recorder import TimelineRecorder
from flowengine.api.webhooks import DeliveryPolicy, WebhookDispatcher, WebhookSender
from flowengine.asterisk.ami import AmiClient
from flowengine.asterisk.app import AriApp, CallHandler
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.instance import InstanceInfo, PrivateAsterisk
from flowengine.asterisk.leftovers import Leftovers, clear_leftovers, find_leftovers
from flowengine.asterisk.media_server import MediaServer
from flowengine.asterisk.routing import RouteTable
from flowengine.asterisk.sip_accounts import SipAccounts, SipBind
from flowengine.campaign.pacing import AsteriskCaps
from flowengine.campaign.service import CampaignService
from flowengine.config import AsteriskConfig, Config
from flowengine.events import EventBus
from flowengine.flow.callregistry import CallRegistry
from flowengine.flow.context import Services, ServicesLink, SmtpSettings
from flowengine.flow.directory import FlowDirectory
from flowengine.flow.persistence import ActiveflowRecorder
from flowengine.flow.reconcile import hang_up_stale_calls
from flowengine.flow.service import FlowService
from flowengine.flow.speech import SpeechCache
from flowengine.providers import credentials, priority
from flowengine.providers.tts import synth_cache
from flowengine.store import Store
from flowengine.store.lease import NodeLease
from flowengine.store.noderequests import NodeRequests
from flowengine.store.nodes import NODE_ID_LENGTH, Owners
from flowengine.store.notify import NotifyBus
from flowengine.tasks import TaskOwner

log = logging.getLogger(__name__)


async def open_store(config: Config) -> Store:
    """The store of `store.url` (SQLite files get their folder made), migrated to the head."""
    cfg = config.store
    prefix = "sqlite+aiosqlite:///"
    if cfg.url.startswith(prefix) and len(cfg.url) > len(prefix):
        Path(cfg.url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
    keys = [k.get_secret_value() for k in (cfg.secret_key, *cfg.previous_secret_keys) if k.get_secret_value()]
    return await Store.open(cfg.url, secret_keys=keys)


def derived_node_id(host: str, app: str) -> str:
    """The default node id: `<host>:<ARI app>`, the same at every restart, kept to the id's characters."""
    raw = f"{host}:{app}"
    return "".join(c if c.isalnum() or c in "_.:@-" else "-" for c in raw)[:NODE_ID_LENGTH]


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


class Engine:
    """The engine's parts, owned as one: each enters one `AsyncExitStack` as it starts, so `aclose()`
    closes them in the reverse order of start-up, and a start that fails half-way closes exactly what had
    started. `handler` answers calls; without one, calls run the flows of `config.flows_dir`.

    The parts other code uses stay attributes (None until started, or when this engine runs none)."""

    def __init__(self, config: Config, handler: CallHandler | None = None, extra_dialplan: str = "", *,
                 sip_accounts: SipAccounts | None = None, sip_bind: SipBind | None = None) -> None:
        self.config = config
        self.handler = handler
        self.extra_dialplan = extra_dialplan
        self.sip_accounts, self.sip_bind = sip_accounts, sip_bind  # for the private Asterisk, if it runs one
        self.private: InstanceInfo | None = None  # the private Asterisk's ports, once started
        self.events = EventBus()
        self.leftovers = Leftovers()  # what this start cleared from Asterisk for a previous run
        self.services = Services()  # what actions use: built once, when the flows' parts have started
        self.ari: AriClient | None = None
        self.ami: AmiClient | None = None
        self.app: AriApp | None = None
        self.store: Store | None = None
        self.node_id = ""  # this node's id (config node.id, or derived from the host and the ARI app)
        self.lease: NodeLease | None = None  # its claim on the ARI app, renewed while it runs
        self.recorder: ActiveflowRecorder | None = None
        self.bus: NotifyBus | None = None  # between the nodes sharing a PostgreSQL store
        self.forwarder: Forwarder | None = None  # sends operations on other nodes' live records to them
        self.webhooks: WebhookDispatcher | None = None
        self.timeline: TimelineRecorder | None = None  # each call's timeline, written from the bus
        self.flow_service: FlowService | None = None
        self.calls: CallRegistry | None = None
        self.resources: StoreResources | None = None
        self.providers: ProviderPool | None = None
        self.aicalls: AICallService | None = None  # also services.ai, typed here for the API
        self.ai_recovery: AIRecovery | None = None
        self.campaigns: CampaignService | None = None
        self.api: ApiServer | None = None
        self._warming: asyncio.Task[None] | None = None
        self._stack = AsyncExitStack()

    async def speech_warmed(self) -> bool:
        """Wait for the background speech warm-up; False if there is none or it did not finish."""
        task = self._warming
        if task is None:
            return False
        await asyncio.wait([task])
        return not task.cancelled() and task.exception() is None

    async def start(self) -> None:
        credentials.configure(self.config.speech.accesses())  # cloud speech keys: the catalogue's readiness
        # the media clock ahead of speech work (issue 19.5)
        priority.prioritise_loop(asyncio.get_running_loop(), realtime=self.config.media.realtime)
        synth_cache.SHARED.resize(synth_cache.DEFAULT_MAX_BYTES)  # replies said again are not synthesised again
        # /metrics: the telemetry port reports to the process's instruments, which count this engine's events
        self._stack.callback(instruments.shared().listen(self.events))
        try:
            if self.handler is None:
                # refuses a held ARI app before anything touches Asterisk (not even a private one: a second
                # engine on the same private folder would stop the first one's Asterisk as it fails)
                await self._start_node()
            await self._start_private()
            await self._start_asterisk()
            if self.handler is None:
                await self._start_flows()
            await self._start_calls()
        except BaseException:
            await self.aclose()
            raise
        assert self.ari is not None
        log.info("engine ready: ARI app %r on %s (Asterisk %s)", self.config.asterisk.app,
                 self.config.asterisk.ari_url, self.ari.asterisk_version)

    async def _start_private(self) -> None:
        cfg, stack = self.config.asterisk, self._stack
        if cfg.private_dir:
            private = PrivateAsterisk(Path(cfg.private_dir), app=cfg.app, extra_dialplan=self.extra_dialplan,
                                      sip_accounts=self.sip_accounts, sip_bind=self.sip_bind)
            stack.push_async_callback(asyncio.to_thread, private.stop)  # also stops one that failed to start
            info = self.private = await asyncio.to_thread(private.start)
            self.config = self.config.model_copy(update={"asterisk": asterisk_config_for(info, cfg)})

    async def _start_node(self) -> None:
        """The store, and this node's claim on its ARI app in it (NodeConflictError while a live node holds it),
        renewed from now on; released last, when everything else has stopped."""
        cfg, stack = self.config, self._stack
        store = self.store = await open_store(cfg)
        stack.push_async_callback(store.aclose)
        host = socket.gethostname()
        node_id = self.node_id = cfg.node.id or derived_node_id(host, cfg.asterisk.app)
        lease = self.lease = NodeLease(store.nodes, node_id, cfg.asterisk.app, host, cfg.node.lease_s)
        await lease.claim()
        stack.push_async_callback(lease.aclose)
        store.own(node_id)
        lease.start()

    async def _start_asterisk(self) -> None:
        cfg, stack = self.config.asterisk, self._stack
        ari = self.ari = AriClient(cfg.ari_url, cfg.ari_username, cfg.ari_password.get_secret_value(), cfg.app,
                                   reconnect_min=cfg.reconnect_min_s, reconnect_max=cfg.reconnect_max_s)
        stack.push_async_callback(ari.aclose)
        # before our app is registered again (and no live node holds it): what Asterisk still holds for it is
        # a dead run's. Asterisk cannot tell (issue 20): GET /applications/{app} looks the same whether a
        # WebSocket holds the app or not; the nodes table does.
        self.leftovers = await clear_leftovers(ari, await find_leftovers(ari))
        await ari.start()
        if cfg.ami_secret.get_secret_value():
            ami = self.ami = AmiClient(cfg.ami_host, cfg.ami_port, cfg.ami_username, cfg.ami_secret.get_secret_value())
            stack.push_async_callback(ami.aclose)
            await ami.connect()

    async def _start_flows(self) -> None:
        cfg, stack = self.config, self._stack
        files = FlowDirectory(cfg.flows_dir)
        stack.push_async_callback(files.aclose)
        await asyncio.to_thread(files.scan)
        files.start_watching()
        speech = cfg.speech
        media_server = MediaServer(Path(speech.cache_dir), speech.http_host, speech.http_port, speech.advertise_host)
        stack.push_async_callback(media_server.aclose)
        await media_server.start()
        http = await stack.enter_async_context(aiohttp.ClientSession())
        speaker = SpeechCache.with_voice(speech.tts, media_server)
        store = self.store
        assert store is not None and self.lease is not None
        timeline = self.timeline = TimelineRecorder(store, self.events)  # closes after the webhooks' last sends
        stack.push_async_callback(timeline.aclose)
        if cfg.api.enabled:
            # listening before the previous run is settled below, so its hangups reach customers' webhooks
            # through the store's outbox: retried for hours, in order per customer, across restarts
            self.webhooks = WebhookDispatcher(store, WebhookSender(http), self.events,
                                              policy=DeliveryPolicy(**cfg.webhooks.model_dump()))
            stack.push_async_callback(self.webhooks.aclose)
            self.webhooks.worker.on_attempt = timeline.webhook_attempt
        recorder = self.recorder = ActiveflowRecorder(store, events=self.events)
        await recorder.ensure_customer()
        mine = Owners.previous_run(self.node_id)  # this node's own records: its previous run's
        await recorder.recover(mine)
        # The flow service (through the call registry) and the AI calls are parts of the Services they run
        # with: they reach them through this link, bound once Services is built below with every part.
        link = ServicesLink()
        flow_service = self.flow_service = FlowService(link)
        calls = self.calls = CallRegistry(store, self.events, flow_service)  # every call, by id, per customer
        await hang_up_stale_calls(store, self.events, known=calls.live, owners=mine)  # a previous run's calls
        if self.ari is not None:  # and the calls lost with Asterisk while the engine ran on
            self.ari.on_resync(calls.resync)
        ais = AIDirectory(Path(cfg.flows_dir) / "ais")
        stack.push_async_callback(ais.aclose)
        await asyncio.to_thread(ais.scan)
        ais.start_watching()  # an edited AI file is used by the next call, like an edited flow
        # stored flows and AIs (the API's) beside the files, each visible to its own customer only
        teams = TeamDirectory(Path(cfg.flows_dir) / "teams", ais)
        await asyncio.to_thread(teams.scan)
        resources = self.resources = StoreResources(store, files, ais)
        await resources.warm()
        providers = self.providers = ProviderPool(fallback_stt=cfg.speech.fallback_stt,
                                                  fallback_tts=cfg.speech.fallback_tts)
        stack.push_async_callback(providers.aclose)
        if cfg.speech.warm_up:
            tasks = TaskOwner("engine")
            stack.push_async_callback(tasks.aclose)
            self._warming = tasks.start(providers.warm_up(), name="speech warm-up")
        media = cfg.media
        aicalls = self.aicalls = AICallService(
            resources, providers, self.ari,
            MediaSettings(format=media.format, bind_host=media.bind_host, advertise_host=media.advertise_host,
                          port_range=(media.port_min, media.port_max)),
            store=store, events=self.events, flow_services=link, teams=teams, prices=cfg.prices)
        stack.push_async_callback(aicalls.aclose)  # post-call analyses still running
        smtp = cfg.smtp
        self.services = link.bind(Services(
            ari=self.ari, ami=self.ami, flows=resources, speech=speaker, http=http,
            smtp=SmtpSettings(smtp.host, smtp.port, smtp.username, smtp.password.get_secret_value(),
                              smtp.sender, smtp.starttls),
            recordings_dir=cfg.calls.recordings_dir, endpoints=dict(cfg.outbound.endpoints),
            dial_timeout_s=cfg.outbound.dial_timeout_s, events=self.events, observers=(recorder, calls.observe),
            start_flow=flow_service.start_flow, dial_flow=flow_service.dial_flow, calls=calls, ai=aicalls,
        ))
        # They run flows from now on, with every part above, so they stop before those parts: the flows
        # first (their AI calls end, their post-call work starts), after the registry hung the calls up.
        stack.push_async_callback(flow_service.aclose)
        stack.push_async_callback(calls.aclose)
        # a previous run's AI calls end now; its summaries are written in the background
        recovery = self.ai_recovery = AIRecovery(store, self.events, aicalls, flow_service.start_flow)
        stack.push_async_callback(recovery.aclose)
        await recovery.start(mine)
        caps = AsteriskCaps(cfg.campaign.max_concurrent_calls, cfg.campaign.max_calls_per_second)
        if store.db.dialect == "postgresql":  # several nodes may share it: live operations reach their owner
            bus = self.bus = NotifyBus(store.db)
            stack.push_async_callback(bus.aclose)
            requests = NodeRequests(bus, self.node_id)
            stack.push_async_callback(requests.aclose)
            await requests.start()
            self.forwarder = Forwarder(requests, StoreOwners(store))
        campaigns = self.campaigns = CampaignService(store, self.events, flow_service, caps, self.bus)
        stack.push_async_callback(campaigns.aclose)
        await campaigns.start(mine)  # settles what a previous run left open, resumes running campaigns
        self.lease.settler = self.settle_nodes  # lost nodes' records: now, and whenever a lease runs out
        stack.push_async_callback(self.lease.stop_settling)
        await self.lease.sweep(everything=True)
        log.info("%d flow(s) and %d AI(s) loaded from %s", len(files.flows), len(ais.by_id) // 2, cfg.flows_dir)

    async def settle_nodes(self, owners: Owners) -> None:
        """Ends the live records of `owners` (lost nodes), each as this node's start ends its own previous run's,
        with the reason naming the lost node."""
        assert self.store is not None and self.calls is not None and self.ai_recovery is not None
        assert self.campaigns is not None and self.recorder is not None
        await hang_up_stale_calls(self.store, self.events, known=self.calls.live, owners=owners)
        await self.recorder.recover(owners)
        await self.ai_recovery.start(owners)
        await self.campaigns.settle(owners)

    async def _start_calls(self) -> None:
        """The ARI app (calls come in from now on), then the API."""
        assert self.ari is not None
        handler = self.handler or (self.flow_service.handle_call if self.flow_service else None)
        assert handler is not None
        routes = self.config.routes
        table = RouteTable(routes.numbers, routes.default_flow, stored=self.store.numbers if self.store else None)
        if self.store is not None:
            await table.check_customers(self.store.customers)
        self.app = AriApp(self.ari, table, handler)
        self._stack.push_async_callback(self.app.aclose)
        if self.config.api.enabled and self.store is not None:
            self.api = ApiServer(self)
            self._stack.push_async_callback(self.api.aclose)  # also when it fails to start
            await self.api.start()

    async def aclose(self) -> None:
        """Closes what started, last started first: the API, the ARI app, campaigns, ... the private Asterisk.
        Closing again does nothing."""
        await self._stack.aclose()

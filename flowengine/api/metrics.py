"""/metrics: the process's counters and histograms (api/instruments) and what is read from the engine at scrape time
(live calls, RTP totals, the media clock, ARI, webhooks, campaigns), in Prometheus' text format."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from flowengine.api import instruments
from flowengine.api.deps import ApiDeps, get_deps
from flowengine.media.clock import LATENESS_BUCKETS, MediaClock
from flowengine.media.totals import TOTALS
from flowengine.store import Backlog, StoreError
from flowengine.store.aicalls import LIVE_STATUSES

log = logging.getLogger(__name__)
router = APIRouter(tags=["Ops"])
STALL_S = 0.060
"""A media clock tick later than this is a stall (the capacity budget: no stall over 60 ms); a LATENESS_BUCKETS bound."""

RTP_DROP_CAUSES = {
    "malformed": "malformed",  # not RTP at all
    "wrong_source": "dropped_wrong_source",  # from another address than the channel's
    "wrong_payload": "wrong_payload",  # another codec or frame size than the channel's
    "stray_ssrc": "ssrc_strays",  # another source than the one the receiver locked onto
    "late": "jitter_late",  # behind what the jitter buffer has played
    "duplicate": "jitter_duplicate",
}
"""`cause` label of flowengine_rtp_dropped_packets_total{direction="rx"} -> the media session counter it sums."""
RTP_TX_DROP_CAUSES = {
    "no_remote": "tx_no_remote",  # audio ready before Asterisk's address was known
    "send_failed": "tx_dropped",  # the socket refused it (buffer full, network error)
}


def _counter(name: str, help: str, value: float, labels: dict[str, str] | None = None) -> CounterMetricFamily:
    family = CounterMetricFamily(name, help, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


def _gauge(name: str, help: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help)
    family.add_metric([], value)
    return family


def _le(bound: float) -> str:
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def rtp_metrics(counters: dict[str, int]) -> Iterator[Any]:
    """RTP totals of every media session since the process started (`MediaTotals.counters()`)."""
    packets = CounterMetricFamily("flowengine_rtp_packets", "RTP packets received (rx) and sent (tx) by AI calls' "
                                  "media sessions", labels=["direction"])
    packets.add_metric(["rx"], counters.get("rx_packets", 0))
    packets.add_metric(["tx"], counters.get("tx_packets", 0))
    yield packets
    yield _counter("flowengine_rtp_lost_packets", "RTP packets never received (sequence gaps the jitter buffer "
                   "filled)", counters.get("jitter_lost", 0))
    dropped = CounterMetricFamily("flowengine_rtp_dropped_packets", "RTP packets received and dropped (rx) or not "
                                  "sent (tx), by cause", labels=["direction", "cause"])
    for direction, causes in (("rx", RTP_DROP_CAUSES), ("tx", RTP_TX_DROP_CAUSES)):
        for cause, counter in causes.items():
            dropped.add_metric([direction, cause], counters.get(counter, 0))
    yield dropped


def clock_metrics(clock: MediaClock) -> Iterator[Any]:
    """The event loop's media clock (it ticks for every session of the process's engine)."""
    yield _counter("flowengine_media_clock_ticks", "Media clock ticks run (one per 20 ms while a call has media)",
                   clock.ticks)
    cumulative, running = [], 0
    for count in clock.lateness_counts:  # per bound, then over the largest
        running += count
        cumulative.append(running)
    lateness = HistogramMetricFamily("flowengine_media_clock_lateness_seconds",
                                     "How late each media clock tick ran after its deadline")
    buckets = [(_le(bound), float(n)) for bound, n in zip(LATENESS_BUCKETS, cumulative, strict=False)]
    lateness.add_metric([], [*buckets, ("+Inf", float(running))], sum_value=clock.lateness_sum)
    yield lateness
    yield _counter("flowengine_media_clock_stalls", "Media clock ticks later than 60 ms (audio stalled)",
                   running - cumulative[LATENESS_BUCKETS.index(STALL_S)])
    yield _counter("flowengine_media_clock_skipped_ticks", "Media clock ticks skipped after a stall longer than "
                   "its catch-up", clock.skipped_ticks)


def node_metrics(node_id: str, ari_app: str) -> Iterator[Any]:
    """Which node this is: one series per process, so per-node panels can name nodes instead of scrape addresses."""
    info = GaugeMetricFamily("flowengine_node_info", "This engine node (always 1): its node id and the ARI app it "
                             "holds", labels=["node", "ari_app"])
    info.add_metric([node_id, ari_app], 1)
    yield info


class EngineCollector(Collector):
    """Reads the engine at scrape time; nothing on the call path is touched."""

    def __init__(self, deps: ApiDeps, backlog: Backlog | None = None, clock: MediaClock | None = None) -> None:
        self.deps = deps
        self.backlog = backlog  # read from the store before the scrape (collecting cannot await)
        self.clock = clock  # the serving loop's: the API runs in the loop the calls' media runs in
        self.now = deps.store.clock()

    def collect(self) -> Iterator[Any]:
        engine = self.deps.engine
        if engine is not None and engine.node_id:
            yield from node_metrics(engine.node_id, engine.config.asterisk.app)
        yield _gauge("flowengine_active_calls", "Calls in the ARI app now",
                     len(engine.app.calls) if engine is not None and engine.app is not None else 0)
        service = engine.aicalls if engine is not None else None
        live = list(service.live.values()) if service is not None else []
        by_status = GaugeMetricFamily("flowengine_aicalls", "Live AI calls by status", labels=["status"])
        for status in LIVE_STATUSES:
            by_status.add_metric([status], sum(1 for c in live if c.record.status == status))
        yield by_status
        yield _gauge("flowengine_media_sessions", "Media sessions open now (one per AI call on a phone call)",
                     TOTALS.open)
        yield _counter("flowengine_media_sessions_opened", "Media sessions opened", TOTALS.sessions)
        yield from rtp_metrics(TOTALS.counters())
        if self.clock is not None:
            yield from clock_metrics(self.clock)
        yield from self._ari()
        yield from self._campaigns()
        yield from self._webhooks()

    def _ari(self) -> Iterator[Any]:
        engine = self.deps.engine
        ari = engine.ari if engine is not None else None
        yield _gauge("flowengine_ari_connected", "1 while the ARI events WebSocket is connected",
                     1 if ari is not None and ari.connected.is_set() else 0)
        yield _counter("flowengine_ari_reconnects", "ARI events WebSocket connections after the first",
                       max(0, ari.connections - 1) if ari is not None else 0)
        yield _counter("flowengine_ari_events", "ARI events received", ari.events_received if ari is not None else 0)

    def _campaigns(self) -> Iterator[Any]:
        engine = self.deps.engine
        campaigns = engine.campaigns if engine is not None else None
        yield _gauge("flowengine_campaigns_running", "Campaigns whose dialer runs on this node",
                     len(campaigns.dialers) if campaigns is not None else 0)
        caps = campaigns.caps if campaigns is not None else None
        yield _gauge("flowengine_campaign_calls", "Campaign calls in progress (holding a concurrency slot)",
                     caps.slots.used if caps is not None else 0)
        yield _gauge("flowengine_campaign_calls_limit", "Most concurrent campaign calls (campaign.max_concurrent_calls)",
                     caps.slots.limit if caps is not None else 0)
        yield _gauge("flowengine_campaign_dial_rate_limit", "Most campaign dials per second "
                     "(campaign.max_calls_per_second)", 1 / caps.pacer.interval if caps is not None else 0)

    def _webhooks(self) -> Iterator[Any]:
        hooks = self.deps.webhooks
        worker = hooks.worker if hooks is not None else None
        for name, help, value in (
            ("deliveries", "Webhook deliveries answered by their receivers", worker.delivered if worker else 0),
            ("retries", "Webhook attempts that failed and were scheduled again", worker.retries if worker else 0),
            ("failures", "Webhook deliveries given up (past webhooks.max_age_s)", worker.failures if worker else 0),
            ("dropped", "Webhook events dropped before reaching the outbox", hooks.dropped if hooks else 0),
        ):
            yield _counter(f"flowengine_webhook_{name}", help, value)
        yield _gauge("flowengine_webhook_backlog", "Webhook events in the outbox not yet delivered",
                     self.backlog.count if self.backlog is not None else 0)
        age = 0.0
        if self.backlog is not None and self.backlog.oldest is not None:
            age = max(0.0, (self.now - self.backlog.oldest).total_seconds())
        yield _gauge("flowengine_webhook_oldest_undelivered_seconds",
                     "Age of the oldest webhook event not yet delivered (0: none)", age)


class _Shared(Collector):
    def collect(self) -> Iterator[Any]:
        yield from instruments.shared().registry.collect()


def registry_for(deps: ApiDeps, backlog: Backlog | None = None, clock: MediaClock | None = None) -> CollectorRegistry:
    """Every family /metrics shows: the shared instruments and the engine read now."""
    registry = CollectorRegistry()
    registry.register(_Shared())
    registry.register(EngineCollector(deps, backlog, clock))
    return registry


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> PlainTextResponse:
    deps = get_deps(request)
    try:  # the outbox is shared by every node: any node's /metrics shows the cluster's backlog
        backlog: Backlog | None = await deps.store.outbox.backlog()
    except StoreError as error:
        log.warning("/metrics without the webhook backlog: %s", error)
        backlog = None
    registry = registry_for(deps, backlog, MediaClock.for_loop())
    return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")

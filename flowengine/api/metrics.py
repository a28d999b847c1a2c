"""/metrics: Prometheus text of live calls, AI calls by status, turn latency, RTP loss and webhook delivery."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from flowengine.api.deps import ApiDeps, get_deps
from flowengine.store import Backlog, StoreError
from flowengine.store.aicalls import LIVE_STATUSES

log = logging.getLogger(__name__)
router = APIRouter(tags=["Ops"])
TURN_BUCKETS_MS = (100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0)


RTP_DROP_CAUSES = {
    "malformed": "malformed",  # not RTP at all
    "wrong_source": "dropped_wrong_source",  # from another address than the channel's
    "wrong_payload": "wrong_payload",  # another codec or frame size than the channel's
    "stray_ssrc": "ssrc_strays",  # another source than the one the receiver locked onto
    "late": "jitter_late",  # behind what the jitter buffer has played
    "duplicate": "jitter_duplicate",
}
"""`cause` label of flowengine_rtp_dropped_packets -> the media session counter it sums."""


def rtp_metrics(sessions: list[dict[str, int]]) -> Iterator[Any]:
    """RTP totals of the live AI calls' media sessions (their `counters()`): received, lost, dropped by cause."""
    received = GaugeMetricFamily("flowengine_rtp_received_packets", "RTP packets received by live AI calls")
    received.add_metric([], sum(c.get("jitter_received", 0) for c in sessions))
    yield received
    lost = GaugeMetricFamily("flowengine_rtp_lost_packets", "RTP packets lost on live AI calls")
    lost.add_metric([], sum(c.get("jitter_lost", 0) for c in sessions))
    yield lost
    dropped = GaugeMetricFamily("flowengine_rtp_dropped_packets", "RTP packets live AI calls received and dropped",
                                labels=["cause"])
    for cause, counter in RTP_DROP_CAUSES.items():
        dropped.add_metric([cause], sum(c.get(counter, 0) for c in sessions))
    yield dropped


class EngineCollector(Collector):
    """Reads the engine at scrape time; nothing on the call path is touched."""

    def __init__(self, deps: ApiDeps, backlog: Backlog | None = None) -> None:
        self.deps = deps
        self.backlog = backlog  # read from the store before the scrape (collecting cannot await)
        self.now = deps.store.clock()

    def collect(self) -> Iterator[Any]:
        engine = self.deps.engine
        calls = GaugeMetricFamily("flowengine_active_calls", "Calls in the ARI app now")
        calls.add_metric([], len(engine.app.calls) if engine is not None and engine.app is not None else 0)
        yield calls
        service = engine.aicalls if engine is not None else None
        live = list(service.live.values()) if service is not None else []
        by_status = GaugeMetricFamily("flowengine_aicalls", "Live AI calls by status", labels=["status"])
        for status in LIVE_STATUSES:
            by_status.add_metric([status], sum(1 for c in live if c.record.status == status))
        yield by_status
        turns = [t.voice_to_voice_ms for c in [*live, *(service.recent if service is not None else [])]
                 if c.conversation is not None for t in c.conversation.turns]
        values = [v for v in turns if v is not None]
        buckets = [(str(edge), float(sum(1 for v in values if v <= edge))) for edge in TURN_BUCKETS_MS]
        buckets.append(("+Inf", float(len(values))))
        hist = HistogramMetricFamily("flowengine_turn_voice_to_voice_ms",
                                     "Voice-to-voice latency of AI turns (live and the last 100 AI calls), ms")
        hist.add_metric([], buckets, sum_value=sum(values))
        yield hist
        yield from rtp_metrics([c.media.session.counters() for c in live if c.media is not None and not c.media.closed])
        yield from self._webhooks()

    def _webhooks(self) -> Iterator[Any]:
        hooks = self.deps.webhooks
        worker = hooks.worker if hooks is not None else None
        for name, help, value in (
            ("deliveries", "Webhook deliveries answered by their receivers", worker.delivered if worker else 0),
            ("retries", "Webhook attempts that failed and were scheduled again", worker.retries if worker else 0),
            ("failures", "Webhook deliveries given up (past webhooks.max_age_s)", worker.failures if worker else 0),
            ("dropped", "Webhook events dropped before reaching the outbox", hooks.dropped if hooks else 0),
        ):
            counter = CounterMetricFamily(f"flowengine_webhook_{name}", help)
            counter.add_metric([], value)
            yield counter
        backlog = GaugeMetricFamily("flowengine_webhook_backlog", "Webhook events in the outbox not yet delivered")
        backlog.add_metric([], self.backlog.count if self.backlog is not None else 0)
        yield backlog
        oldest = GaugeMetricFamily("flowengine_webhook_oldest_undelivered_seconds",
                                   "Age of the oldest webhook event not yet delivered (0: none)")
        age = 0.0
        if self.backlog is not None and self.backlog.oldest is not None:
            age = max(0.0, (self.now - self.backlog.oldest).total_seconds())
        oldest.add_metric([], age)
        yield oldest


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> PlainTextResponse:
    deps = get_deps(request)
    registry = CollectorRegistry()
    try:  # the outbox is shared by every node: any node's /metrics shows the cluster's backlog
        backlog: Backlog | None = await deps.store.outbox.backlog()
    except StoreError as error:
        log.warning("/metrics without the webhook backlog: %s", error)
        backlog = None
    registry.register(EngineCollector(deps, backlog))
    return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")

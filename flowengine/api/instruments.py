"""The process's Prometheus counters and histograms: fed by the telemetry port and the engine's event bus as things happen."""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from flowengine import telemetry
from flowengine.ai.endreasons import DOCUMENTED
from flowengine.events import Event, EventBus
from flowengine.store.aicalls import AIcallReferenceType
from flowengine.store.calls import CallDirection, HangupBy, HangupReason
from flowengine.telemetry import TURN_STAGES, BargeIn, ProviderKind, RequestOutcome, TurnStage

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
"""Seconds: from the engine's own milliseconds (engine stage) to a slow cloud reply; 0.6 s is the v2v budget."""
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
OTHER = "other"
"""A label value outside its known set (a stored value from another version): counted, never a new series per value."""


def bounded(value: str, known: Collection[str]) -> str:
    return value if value in known else OTHER


def _known(literal: Any) -> frozenset[str]:
    return frozenset(str(v) for v in get_args(literal))


DIRECTIONS, HANGUP_BY, HANGUP_REASONS = _known(CallDirection), _known(HangupBy), _known(HangupReason)
REFERENCE_TYPES = _known(AIcallReferenceType)
CAMPAIGN_RESULTS = frozenset({"success", "fail", ""})
CAMPAIGN_REASONS = HANGUP_REASONS | {"interrupted"}


class Instruments:
    """Implements `telemetry.Telemetry` and listens to event buses; every metric is a cumulative counter or
    histogram in `registry` (prometheus_client's are thread-safe: the speech workers report from their threads)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)

        def counter(name: str, help: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(name, help, list(labels), registry=registry)

        self.calls_started = counter("flowengine_calls_started", "Calls created (inbound answered by the app, "
                                     "dialled by flows, the API and campaigns)", ["direction"])
        self.calls_ended = counter("flowengine_calls_ended", "Calls hung up, by who hung up and why (VoIPBIN's "
                                   "hangup_by and hangup_reason)", ["direction", "hangup_by", "hangup_reason"])
        self.aicalls_started = counter("flowengine_aicalls_started", "AI calls started", ["reference_type"])
        self.aicalls_ended = counter("flowengine_aicalls_ended", "AI calls terminated, by ended reason (Vapi's "
                                     "endedReason values)", ["reference_type", "ended_reason"])
        self.turns: dict[TurnStage, Histogram] = {
            stage: Histogram(f"flowengine_turn_{stage}_seconds", f"AI turn latency: {stage.replace('_', ' ')}",
                             buckets=LATENCY_BUCKETS, registry=registry) for stage in TURN_STAGES}
        self.barge_ins = counter("flowengine_barge_ins", "Caller speech over the agent: interrupted it, or a "
                                 "backchannel after which the agent resumed", ["verdict"])
        self.provider_requests = counter("flowengine_provider_requests", "Requests to speech and language "
                                         "providers by outcome (ok, error, cancelled by the engine)",
                                         ["kind", "provider", "outcome"])
        self.provider_seconds = Histogram("flowengine_provider_request_duration_seconds", "Provider requests that "
                                          "finished (ok or error), start to last result", ["kind", "provider"],
                                          buckets=LATENCY_BUCKETS, registry=registry)
        self.queue_waits = Histogram("flowengine_speech_queue_wait_seconds", "Time local speech work waited for a "
                                    "free worker of its model pool", ["kind", "pool"], buckets=QUEUE_BUCKETS,
                                    registry=registry)
        self.dials_started = counter("flowengine_campaign_dials_started", "Campaign dials started")
        self.dials = counter("flowengine_campaign_dials", "Campaign dials finished, by result and hangup reason",
                             ["result", "hangup_reason"])
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "call_created": self._call_created, "call_hangup": self._call_hangup,
            "aicall_status_initializing": self._aicall_started, "aicall_status_terminated": self._aicall_ended,
            "campaigncall_created": self._dial_started, "campaigncall_updated": self._dial_updated,
        }

    # -- the telemetry port ---------------------------------------------------------------------
    def turn(self, seconds: Mapping[TurnStage, float]) -> None:
        for stage, value in seconds.items():
            self.turns[stage].observe(value)

    def barge_in(self, verdict: BargeIn) -> None:
        self.barge_ins.labels(verdict).inc()

    def provider_request(self, kind: ProviderKind, provider: str, outcome: RequestOutcome, seconds: float) -> None:
        self.provider_requests.labels(kind, provider, outcome).inc()
        if outcome != "cancelled":
            self.provider_seconds.labels(kind, provider).observe(seconds)

    def queue_wait(self, kind: ProviderKind, pool: str, seconds: float) -> None:
        self.queue_waits.labels(kind, pool).observe(max(0.0, seconds))

    # -- the event bus --------------------------------------------------------------------------
    def listen(self, events: EventBus) -> Callable[[], None]:
        """Counts the bus's calls, AI calls and campaign dials; returns the function that stops listening."""
        return events.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(event.data)

    def _call_created(self, data: Mapping[str, Any]) -> None:
        self.calls_started.labels(bounded(str(data.get("direction", "")), DIRECTIONS)).inc()

    def _call_hangup(self, data: Mapping[str, Any]) -> None:
        self.calls_ended.labels(bounded(str(data.get("direction", "")), DIRECTIONS),
                                bounded(str(data.get("hangup_by", "")), HANGUP_BY),
                                bounded(str(data.get("hangup_reason", "")), HANGUP_REASONS)).inc()

    def _aicall_started(self, data: Mapping[str, Any]) -> None:
        self.aicalls_started.labels(bounded(str(data.get("reference_type", "")), REFERENCE_TYPES)).inc()

    def _aicall_ended(self, data: Mapping[str, Any]) -> None:
        reason = str(data.get("ended_reason", ""))
        self.aicalls_ended.labels(bounded(str(data.get("reference_type", "")), REFERENCE_TYPES),
                                  reason if reason in DOCUMENTED or not reason else OTHER).inc()

    def _dial_started(self, data: Mapping[str, Any]) -> None:
        self.dials_started.inc()

    def _dial_updated(self, data: Mapping[str, Any]) -> None:
        if data.get("status") == "done":
            self.dials.labels(bounded(str(data.get("result", "")), CAMPAIGN_RESULTS),
                              bounded(str(data.get("hangup_reason", "")), CAMPAIGN_REASONS)).inc()


_shared: Instruments | None = None


def shared() -> Instruments:
    """The process's instruments, installed as the telemetry sink on first use."""
    global _shared
    if _shared is None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside every counter: nothing here reads them
        _shared = Instruments()
        telemetry.install(_shared)
    return _shared

"""/metrics' families read at scrape time: RTP totals by direction and drop cause, the media clock's lateness."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from flowengine.api.metrics import RTP_DROP_CAUSES, RTP_TX_DROP_CAUSES, clock_metrics, rtp_metrics
from flowengine.media.clock import MediaClock
from flowengine.media.session import MediaSession


class _Families(Collector):
    def __init__(self, families: Iterator[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Any]:
        return iter(self.families)


def samples(families: Iterator[Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, as a scraper reads the text."""
    registry = CollectorRegistry()
    registry.register(_Families(families))
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_rtp_packets_by_direction_and_drops_by_cause() -> None:
    counters = {"rx_packets": 150, "tx_packets": 149, "jitter_lost": 2, "ssrc_strays": 4, "malformed": 1,
                "jitter_late": 4, "dropped_wrong_source": 5, "wrong_payload": 6, "jitter_duplicate": 7,
                "tx_no_remote": 3, "tx_dropped": 8}
    got = samples(rtp_metrics(counters))
    assert got[("flowengine_rtp_packets_total", (("direction", "rx"),))] == 150
    assert got[("flowengine_rtp_packets_total", (("direction", "tx"),))] == 149
    assert got[("flowengine_rtp_lost_packets_total", ())] == 2
    for direction, cause, value in (("rx", "stray_ssrc", 4), ("rx", "malformed", 1), ("rx", "wrong_source", 5),
                                    ("rx", "wrong_payload", 6), ("rx", "late", 4), ("rx", "duplicate", 7),
                                    ("tx", "no_remote", 3), ("tx", "send_failed", 8)):
        assert got[("flowengine_rtp_dropped_packets_total", (("cause", cause), ("direction", direction)))] == value


async def test_every_cause_names_a_counter_a_media_session_keeps() -> None:
    session = MediaSession()
    await session.start()
    try:
        counters = session.counters()
    finally:
        await session.aclose()
    assert {*RTP_DROP_CAUSES.values(), *RTP_TX_DROP_CAUSES.values(), "rx_packets", "tx_packets",
            "jitter_lost"} <= set(counters)


class _Client:
    def __init__(self) -> None:
        self.ticks = 0

    def on_tick(self) -> None:
        self.ticks += 1


async def test_clock_lateness_histogram_and_stalls_from_a_fake_clock() -> None:
    """Ticks run 0, 3 ms, 15 ms and 70 ms late (a fake clock oversleeps): the buckets are cumulative, the +Inf
    bucket is the tick count, the sum is the lateness added up, and only the 70 ms tick is a stall."""
    now = [0.0]
    late = iter([0.0, 0.003, 0.015, 0.070])

    async def sleep(seconds: float) -> None:
        now[0] += seconds + next(late)

    clock = MediaClock(time=lambda: now[0], sleep=sleep, max_catchup=100)
    clock.join(_Client())
    await clock.run(ticks=4)
    got = samples(clock_metrics(clock))
    bucket = {dict(labels)["le"]: value for (name, labels), value in got.items()
              if name == "flowengine_media_clock_lateness_seconds_bucket"}
    assert bucket["0.0005"] == 1 and bucket["0.005"] == 2 and bucket["0.02"] == 3 and bucket["0.06"] == 3
    assert bucket["0.1"] == 4 and bucket["+Inf"] == 4
    assert got[("flowengine_media_clock_lateness_seconds_count", ())] == 4
    assert abs(got[("flowengine_media_clock_lateness_seconds_sum", ())] - 0.088) < 1e-9
    assert got[("flowengine_media_clock_stalls_total", ())] == 1
    assert got[("flowengine_media_clock_ticks_total", ())] == 4

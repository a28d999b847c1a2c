"""/metrics' RTP families: the live AI calls' media counters summed, drops by cause."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from flowengine.api.metrics import RTP_DROP_CAUSES, rtp_metrics
from flowengine.media.session import MediaSession


class _Rtp(Collector):
    def __init__(self, sessions: list[dict[str, int]]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Any]:
        return rtp_metrics(self.sessions)


def scrape(sessions: list[dict[str, int]]) -> str:
    registry = CollectorRegistry()
    registry.register(_Rtp(sessions))
    return generate_latest(registry).decode()


def test_drops_by_cause_are_summed_over_the_live_sessions() -> None:
    one = {"jitter_received": 100, "jitter_lost": 2, "ssrc_strays": 3, "malformed": 1, "jitter_late": 4}
    two = {"jitter_received": 50, "dropped_wrong_source": 5, "wrong_payload": 6, "jitter_duplicate": 7,
           "ssrc_strays": 1}
    text = scrape([one, two])
    assert "flowengine_rtp_received_packets 150.0" in text and "flowengine_rtp_lost_packets 2.0" in text
    for cause, value in (("stray_ssrc", 4), ("malformed", 1), ("wrong_source", 5), ("wrong_payload", 6),
                         ("late", 4), ("duplicate", 7)):
        assert f'flowengine_rtp_dropped_packets{{cause="{cause}"}} {value:.1f}' in text, cause


async def test_every_cause_names_a_counter_a_media_session_keeps() -> None:
    session = MediaSession()
    await session.start()
    try:
        counters = session.counters()
    finally:
        await session.aclose()
    assert set(RTP_DROP_CAUSES.values()) <= set(counters)

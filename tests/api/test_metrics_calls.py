"""/metrics scraped before and after a real AI call (private Asterisk, Whisper, espeak, a local OpenAI-compatible
server): counters only grow, histograms are cumulative and add up, and what grew matches what the call did."""
from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.ari.rest import AriError
from tests.ai.test_ai_talk import speech_file
from tests.api.voipbin.test_aicalls_live import AILive, ailive, answer_far_half, speak, until
from tests.conftest import Asterisk
from tests.fakes.openai_server import Reply
from tests.support import eventually

__all__ = ["ailive"]  # the fixture: a whole engine with its API on the session's Asterisk

GREETING = ("Hello, this is the dental office of doctor Smith. We are open from Monday to Friday, from eight in the "
            "morning to six in the evening, and on Saturday mornings. How can I help you today?")
ANSWER = "We open at eight on Monday."

Key = tuple[str, tuple[tuple[str, str], ...]]


class Scrape:
    """One /metrics text, parsed as Prometheus reads it."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.values: dict[Key, float] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.values.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """Summed over the labels not given."""
        return sum(v for (n, ls), v in self.values.items() if n == name and labels.items() <= dict(ls).items())

    def histograms(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]]:
        """(family, labels but le) -> {"buckets": [(le, count)] by le, "count", "sum"}."""
        found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = defaultdict(
            lambda: {"buckets": [], "count": None, "sum": None})
        for family, kind in self.types.items():
            if kind != "histogram":
                continue
            for (name, labels), value in self.values.items():
                rest = tuple(kv for kv in labels if kv[0] != "le")
                if name == f"{family}_bucket":
                    found[(family, rest)]["buckets"].append((float(dict(labels)["le"]), value))
                elif name == f"{family}_count":
                    found[(family, rest)]["count"] = value
                elif name == f"{family}_sum":
                    found[(family, rest)]["sum"] = value
        for entry in found.values():
            entry["buckets"].sort()
        return dict(found)


def check_histograms_add_up(scrape: Scrape) -> int:
    """Every histogram: buckets cumulative, +Inf bucket = _count, a sum as soon as something was observed."""
    histograms = scrape.histograms()
    for key, h in histograms.items():
        counts = [count for _, count in h["buckets"]]
        assert counts == sorted(counts), (key, h["buckets"])
        assert h["buckets"][-1][0] == math.inf and h["buckets"][-1][1] == h["count"], (key, h)
        assert h["sum"] is not None and (h["count"] == 0) <= (h["sum"] == 0), (key, h)
    return len(histograms)


def check_only_grew(before: Scrape, after: Scrape) -> None:
    """Counters and histogram series never go down between two scrapes (a series new in `after` started at 0)."""
    for family, kind in after.types.items():
        if kind not in ("counter", "histogram"):
            continue
        for (name, labels), value in after.values.items():
            if name.startswith(family):
                assert value >= before.values.get((name, labels), 0.0), (name, labels, before.values.get(
                    (name, labels)), value)
    for key, h in after.histograms().items():  # each bucket's growth adds up to the count's
        was = before.histograms().get(key, {"buckets": [(le, 0.0) for le, _ in h["buckets"]], "count": 0.0})
        grown = [now - then for (_, now), (_, then) in zip(h["buckets"], was["buckets"], strict=True)]
        assert grown == sorted(grown) and grown[-1] == h["count"] - (was["count"] or 0.0), (key, grown)


async def scrape(http: httpx.AsyncClient) -> Scrape:
    r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return Scrape(r.text)


@pytest.mark.asterisk
async def test_metrics_around_a_real_ai_call(ailive: AILive, ari: AriClient, asterisk: Asterisk,
                                             tmp_path: Any) -> None:
    live, h = ailive, ailive.tenant.headers
    live.llm.script(Reply(text=ANSWER), Reply(text=ANSWER))
    question = speech_file(tmp_path, "question", "What time do you open on Monday morning?")
    ai = await live.http.post("/v1.0/ais", headers=h, json={
        "name": "receptionist", "engine_model": "openai.gpt-test", "engine_key": "sk-test-key-123",
        "init_prompt": "You are a short-spoken receptionist.", "tts_type": "espeak",
        "parameter": {"first_message": GREETING}})
    assert ai.status_code == 200, ai.text
    before = await scrape(live.http)
    assert check_histograms_add_up(before) >= 7  # six turn stages and the media clock at least

    async def dial() -> dict[str, Any]:
        r = await live.http.post("/v1.0/calls", headers=h, json={
            "source": {"type": "tel", "target": "5550100"}, "destinations": [{"type": "tel", "target": "1000"}],
            "actions": [{"type": "answer"}, {"type": "ai_talk", "option": {"assistance_id": ai.json()["id"]}}]})
        assert r.status_code == 200, r.text
        calls: list[dict[str, Any]] = r.json()["calls"]
        return calls[0]

    leg, call = await answer_far_half(ari, dial)
    try:
        listed: list[dict[str, Any]] = []

        async def progressing() -> bool:
            listed[:] = (await live.get("/v1.0/aicalls", status="progressing"))["result"]
            return bool(listed)

        await until(progressing, 60, "a progressing AI call")
        service = live.engine.aicalls
        assert service is not None
        conversation = service.live[listed[0]["id"]].conversation
        assert conversation is not None
        await eventually(lambda: conversation.speaking, timeout=60, what="the greeting playing")
        await speak(leg, question)  # over the long greeting: a barge-in, then the question is answered
        await until(lambda: _said(live, listed[0]["id"], ANSWER), 120, "the answer")
        await eventually(lambda: not conversation.speaking, timeout=60, what="the answer played")
        during = await scrape(live.http)
        assert during.value("flowengine_aicalls", status="progressing") == 1
        assert during.value("flowengine_media_sessions") >= 1 and during.value("flowengine_ari_connected") == 1
        assert during.value("flowengine_node_info", node=live.engine.node_id,
                            ari_app=live.engine.config.asterisk.app) == 1
    finally:
        with contextlib.suppress(AriError):
            await leg.hangup()  # the caller hangs up: customer-ended-call

    async def settled() -> bool:
        done = await live.get(f"/v1.0/calls/{call['id']}")
        return bool(done["status"] == "hangup") and not service.live
    await until(settled, 30, "call hung up and AI call ended")
    after = await scrape(live.http)

    check_histograms_add_up(after)
    check_only_grew(before, after)
    grew = {name: after.total(name) - before.total(name) for name in {n for n, _ in after.values}}
    assert grew["flowengine_calls_started_total"] == 1
    assert after.value("flowengine_calls_ended_total", direction="outgoing", hangup_by="remote",
                       hangup_reason="normal") - before.value("flowengine_calls_ended_total", direction="outgoing",
                                                              hangup_by="remote", hangup_reason="normal") == 1
    assert grew["flowengine_aicalls_started_total"] == 1
    ended = {dict(ls)["ended_reason"]: v - before.values.get((n, ls), 0.0) for (n, ls), v in after.values.items()
             if n == "flowengine_aicalls_ended_total" and v > before.values.get((n, ls), 0.0)}
    assert ended == {"customer-ended-call": 1}
    # what the conversation itself counted, seen through the port
    turns = [t for t in conversation.turns if t.voice_to_voice_ms is not None]  # a reply cut before a sound has none
    assert turns and grew["flowengine_turn_voice_to_voice_seconds_count"] == len(turns)
    assert grew["flowengine_turn_endpointing_seconds_count"] == len(conversation.turns)
    v2v = sum(t.voice_to_voice_ms or 0.0 for t in turns) / 1000
    assert abs(grew["flowengine_turn_voice_to_voice_seconds_sum"] - v2v) < 1e-6
    assert grew["flowengine_barge_ins_total"] == conversation.interruptions + conversation.false_interruptions >= 1
    llm_ok = after.value("flowengine_provider_requests_total", kind="llm", provider="openai", outcome="ok") - \
        before.value("flowengine_provider_requests_total", kind="llm", provider="openai", outcome="ok")
    assert llm_ok == len(live.llm.requests) >= 1
    assert after.total("flowengine_provider_requests_total", kind="stt", provider="whisper") > \
        before.total("flowengine_provider_requests_total", kind="stt", provider="whisper")
    assert after.total("flowengine_provider_requests_total", kind="tts", provider="espeak") > \
        before.total("flowengine_provider_requests_total", kind="tts", provider="espeak")
    assert grew["flowengine_speech_queue_wait_seconds_count"] >= 1  # whisper's pool
    # media: both directions flowed, the clock ticked through the call, the session is closed again
    rtp = {d: after.value("flowengine_rtp_packets_total", direction=d)
           - before.value("flowengine_rtp_packets_total", direction=d) for d in ("rx", "tx")}
    assert rtp["rx"] > 50 and rtp["tx"] > 50, rtp  # 50 packets a second each way while the call lasted
    assert grew["flowengine_media_clock_ticks_total"] >= rtp["tx"] * 0.9
    assert grew["flowengine_media_sessions_opened_total"] == 1 and after.value("flowengine_media_sessions") == 0
    assert grew["flowengine_ari_events_total"] > 0 and after.value("flowengine_ari_reconnects_total") == 0


async def _said(live: AILive, aicall_id: str, text: str) -> bool:
    return text in await live.said(aicall_id, "assistant")

"""`flowengine bench capacity`: CLI wiring, the report of a tiny real run (2 calls), and the bounded search."""
from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pytest

from flowengine.bench import capacity
from flowengine.bench.capacity_callers import Script, loud
from flowengine.cli import bench as cli_bench
from flowengine.media.g711 import ulaw_encode
from flowengine.media.vad import VadConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    cli_bench.add_parser(sub)
    return p


def test_cli_parses_capacity_options() -> None:
    args = parser().parse_args(["bench", "capacity", "--calls", "1,10,20", "--seconds", "5", "--delay-ms", "80",
                                "--json"])
    assert (args.calls, args.seconds, args.delay_ms, args.json) == ("1,10,20", 5.0, 80.0, True)
    assert args.func is cli_bench.run_capacity


@pytest.mark.parametrize("argv", [["--calls", "0"], ["--calls", "ten"], ["--calls", ""], ["--seconds", "0"],
                                  ["--delay-ms", "-1"], ["--budget", "99999"]])
def test_cli_rejects_out_of_range_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["bench", "capacity", *argv])
    assert args.func(args) == 2
    assert "must be" in capsys.readouterr().err


def test_the_callers_tell_the_agents_voice_from_line_silence() -> None:
    tone = (np.sin(np.arange(160) / 8000 * 2 * np.pi * 440) * 0.3 * 32767).astype(np.int16)
    assert loud(ulaw_encode(tone))
    assert not loud(ulaw_encode(np.zeros(160, dtype=np.int16)))
    assert not loud(ulaw_encode((np.random.default_rng(1).standard_normal(160) * 20).astype(np.int16)))


def test_a_tiny_real_run_answers_every_conversations_turns() -> None:
    # the burst (0.8 s) is longer than the VAD's start time: the engine hears each one as an utterance
    assert Script().burst_frames * 20 > VadConfig().start_secs * 1000
    script = Script(first_turn_s=1.0, stagger_s=0.5)
    with capacity.providers(delay_ms=50) as (endpoints, fakes):
        report = capacity.run_once(2, 6.0, endpoints, fakes, warmup=1.0, script=script)
    assert report["calls"] == 2 and report["provider_delay_ms"] == 50
    assert set(report) >= {"turns", "turns_per_call", "engine_turns", "unanswered_turns", "voice_to_voice_ms",
                           "engine_ms", "engine_view_ms", "engine_cpu_percent", "providers_cpu_percent",
                           "callers_cpu_percent", "frames", "provider_failures", "conversations_ended_early"}
    # each conversation completed turns, heard at the callers and counted by the engine
    assert report["turns_per_call"]["min"] >= 1
    assert report["engine_turns"] >= 2 and report["unanswered_turns"] == 0
    assert report["provider_failures"] == 0 and report["conversations_ended_early"] == 0
    for key in ("voice_to_voice_ms", "engine_ms"):
        assert set(report[key]) == {"p50", "p95", "max"}
        assert 0 <= report[key]["p50"] <= report[key]["p95"] <= report[key]["max"]
    # the replies went through every provider: their waits include the injected 50 ms
    for part in ("stt_wait", "llm_first_token", "tts_first_audio"):
        assert report["engine_view_ms"][part]["p50"] >= 50
    assert set(report["frames"]["in"]) == {"received", "lost", "late", "inbox_dropped"}
    assert report["frames"]["in"]["received"] > 400 and report["frames"]["out"]["sent"] > 400


def _run(calls: int, p95: float, **extra: Any) -> dict[str, Any]:
    return {"calls": calls, "turns": 20, "unanswered_turns": 0, "provider_failures": 0,
            "voice_to_voice_ms": {"p50": p95 - 10, "p95": p95, "max": p95 + 5}, "engine_ms": {"p95": 1.0},
            "engine_cpu_percent": 1.0, "providers_cpu_percent": 1.0, **extra}


def test_the_search_stops_at_the_first_n_over_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[int] = []
    p95 = {1: 400.0, 25: 420.0, 50: 499.0, 100: 501.0}

    def run_once(n: int, *args: object, **kwargs: object) -> dict[str, Any]:
        tried.append(n)
        return _run(n, p95[n])

    monkeypatch.setattr(capacity, "run_once", run_once)
    monkeypatch.setattr(capacity, "providers", _NoProviders)
    report = capacity.run_capacity_bench((1, 25, 50, 100, 150, 200))
    assert tried == [1, 25, 50, 100]
    assert report["max_calls"] == 50 and report["baseline_p95_ms"] == 400.0 and not report["capped"]
    assert [r.get("ok") for r in report["runs"]] == [None, True, True, False]
    json.dumps(report)
    for run in report["runs"]:
        run["frames"] = {"in": {"lost": 0}, "out": {"lost": 0}}
    table = cli_bench.format_capacity(report).splitlines()
    assert len(table) == 1 + 4 + 2 and table[-2].startswith("max calls: 50")


def test_unanswered_turns_or_failures_miss_the_target() -> None:
    assert capacity.passes(_run(10, 450), 400)
    assert not capacity.passes(_run(10, 450, unanswered_turns=5), 400)
    assert not capacity.passes(_run(10, 450, provider_failures=1), 400)
    assert not capacity.passes(_run(10, 450, voice_to_voice_ms={"p50": None, "p95": None, "max": None}), 400)


def test_the_search_is_bounded_by_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[int] = []

    def run_once(n: int, *args: object, **kwargs: object) -> dict[str, Any]:
        tried.append(n)
        return _run(n, 400)

    monkeypatch.setattr(capacity, "run_once", run_once)
    monkeypatch.setattr(capacity, "providers", _NoProviders)
    assert capacity.run_capacity_bench((1, 25, 50), budget=0)["max_calls"] == 1 and tried == [1]
    tried.clear()
    report = capacity.run_capacity_bench((25, 50))
    assert tried == [1, 25, 50] and report["max_calls"] == 50 and report["capped"]


class _NoProviders:
    """Stands in for the providers process (the run itself is replaced)."""

    def __init__(self, delay_ms: float) -> None:
        pass

    def __enter__(self) -> tuple[object, object]:
        return object(), object()

    def __exit__(self, *exc: object) -> None:
        pass

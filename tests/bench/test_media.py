"""`flowengine bench media`: CLI wiring, report shape from a tiny real run, bounded max-streams search."""
from __future__ import annotations

import argparse
import json
import re
from typing import Any

import numpy as np
import pytest

from flowengine.bench import media as bench
from flowengine.bench.media_peer import _arrival_stats, rfc3550_jitter
from flowengine.cli import bench as cli_bench


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    cli_bench.add_parser(sub)
    return p


def test_cli_parses_media_options() -> None:
    args = parser().parse_args(["bench", "media", "--streams", "50", "--seconds", "5", "--json"])
    assert (args.streams, args.seconds, args.json, args.no_search) == (50, 5.0, True, False)
    assert args.func is cli_bench.run_media
    with pytest.raises(SystemExit):
        parser().parse_args(["bench"])


def test_cli_rejects_out_of_range_values(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["bench", "media", "--streams", "0"])
    assert args.func(args) == 2
    assert "--streams must be" in capsys.readouterr().err


def test_tiny_real_run_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(
        ["bench", "media", "--streams", "3", "--seconds", "1", "--json", "--no-search", "--host-floor", "0.4"]
    )
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"streams", "seconds", "cpu_us_per_frame", "send_jitter_ms", "packets", "max_streams_p99_2ms", "machine"}
    assert report["streams"] == 3 and report["seconds"] == 1.0
    assert set(report["cpu_us_per_frame"]) == {"in", "out"}
    assert set(report["send_jitter_ms"]) >= {"p50", "p99", "p999"}
    assert set(report["packets"]) == {"sent", "received", "lost", "late"}
    assert report["max_streams_p99_2ms"] is None
    assert set(report["machine"]) >= {"cpu", "cores", "python", "platform"}
    # Both directions really carried audio.
    assert report["packets_by_direction"]["in"]["received"] > 100
    assert report["packets_by_direction"]["out"]["received"] > 100
    assert report["packets"]["lost"] == 0
    assert set(report["rfc3550_jitter_ms"]) == {"p50", "p99", "max"}
    assert report["clock"]["max_lateness_ms"] >= 0
    lateness = report["clock"]["lateness_ms"]
    assert 0 <= lateness["p50"] <= lateness["p99"] <= report["clock"]["max_lateness_ms"]
    assert report["native_inbound"] is True
    assert report["peer_drain"] == "wake"
    floor = report["host_timer_wake_ms"]
    assert floor["wakes"] == 20 and 0 <= floor["p50"] <= floor["p99"] <= floor["max"]


def test_a_peer_that_drains_on_its_own_tick_still_sees_every_packet(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["bench", "media", "--streams", "3", "--seconds", "1", "--json", "--no-search",
                                "--host-floor", "0", "--peer-drain", "tick"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["peer_drain"] == "tick" and report["host_timer_wake_ms"] is None
    assert report["packets_by_direction"]["out"]["received"] > 100
    assert report["packets"]["lost"] == 0 and report["packets"]["late"] == 0
    assert report["send_jitter_ms"]["p50"] is not None


def test_bad_peer_drain_and_host_floor_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["bench", "media", "--peer-drain", "sometimes"])
    args = parser().parse_args(["bench", "media", "--host-floor", "-1"])
    assert args.func(args) == 2
    assert "--host-floor must be" in capsys.readouterr().err
    with pytest.raises(ValueError, match="peer_drain"):
        bench.run_once(1, 1.0, peer_drain="sometimes")


def test_timer_floor_measures_idle_wake_ups() -> None:
    assert bench.timer_floor(0) is None
    floor = bench.timer_floor(0.2)
    assert floor is not None and floor["wakes"] == 10 and floor["seconds"] == 0.2
    assert 0 <= floor["p50"] <= floor["p99"] <= floor["max"]


def test_table_output() -> None:
    report: dict[str, Any] = {
        "streams": 10,
        "seconds": 2.0,
        "event_loop": "asyncio",
        "cpu_us_per_frame": {"in": 12.5, "out": 8.0},
        "engine_cpu_percent": 10.0,
        "peer_cpu_percent": 5.0,
        "send_jitter_ms": {"p50": 0.5, "p99": 1.5, "p999": 2.5},
        "packets": {"sent": 2000, "received": 2000, "lost": 0, "late": 0},
        "max_streams_p99_2ms": 400,
        "clock": {"lateness_ms": {"p50": 0.2, "p99": 1.1}, "max_lateness_ms": 3.0, "skipped_ticks": 0},
        "host_timer_wake_ms": {"p50": 0.25, "p99": 2.5, "max": 4.0, "wakes": 250},
        "peer_drain": "tick",
        "machine": {"cpu": "Test CPU", "cores": 2, "python": "3.11.7"},
    }
    table = cli_bench.format_table(report)
    assert re.search(r"^tick wake-up late p50/p99 +0.2 / 1.1 ms$", table, re.MULTILINE)
    assert "0.25 / 2.5 ms (max 4.0 ms, 250 wakes" in table
    assert "peer tick" in table
    assert "CPU per frame in" in table and "12.5 us" in table
    assert "0.5 / 1.5 / 2.5 ms" in table
    assert re.search(r"^max streams \(p99 <= 2 ms\) +400$", table, re.MULTILINE)


def test_search_doubles_then_bisects_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[int] = []

    def fake_run(streams: int, seconds: float, **kwargs: Any) -> dict[str, Any]:
        tried.append(streams)
        p99 = 1.0 if streams <= 330 else 3.0
        return {"send_jitter_ms": {"p99": p99}, "packets": {"sent": 1000, "lost": 0}}

    monkeypatch.setattr(bench, "run_once", fake_run)
    result = bench.search_max_streams(budget=1000, start=50, cap=2000)
    assert tried[:5] == [50, 100, 200, 400, 300]
    assert 300 <= result["max_streams"] <= 330
    assert len(tried) <= 10
    assert not result["capped"]


def test_search_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "run_once", lambda n, s, **k: {"send_jitter_ms": {"p99": 0.5}, "packets": {"sent": 1, "lost": 0}})
    result = bench.search_max_streams(budget=1000, start=50, cap=300)
    assert result == {"max_streams": 300, "capped": True, "runs": [{"streams": n, "p99_ms": 0.5, "ok": True} for n in (50, 100, 200, 300)]}


def test_loss_fails_a_run() -> None:
    assert bench.passes({"send_jitter_ms": {"p99": 1.0}, "packets": {"sent": 1000, "lost": 5}})
    assert not bench.passes({"send_jitter_ms": {"p99": 1.0}, "packets": {"sent": 1000, "lost": 50}})
    assert not bench.passes({"send_jitter_ms": {"p99": None}, "packets": {"sent": 0, "lost": 0}})


def test_jitter_is_measured_against_the_ideal_schedule() -> None:
    # Stream sent at 20 ms + a constant 3 ms offset, one packet 1.5 ms late, one lost.
    base = 10**18
    slots = [0, 1, 2, 3, 5, 6]
    stamps = [base + int((s * 20 + 3) * 1e6) for s in slots]
    stamps[2] += int(1.5e6)
    stats = _arrival_stats(
        [stamps], [[(1000 + s * 160) % 2**32 for s in slots]], [[(65534 + s) % 65536 for s in slots]], 1.0, (0, 2 * base)
    )
    assert stats["received"] == 6 and stats["lost"] == 1 and stats["late"] == 0
    assert stats["jitter_ms"]["p50"] == pytest.approx(0.0, abs=1e-6)
    assert stats["jitter_ms"]["max"] == pytest.approx(1.5, abs=1e-6)
    assert np.isfinite(stats["jitter_ms"]["p99"])
    assert stats["rfc3550_jitter_ms"]["max"] > 0


def test_rfc3550_jitter_follows_the_transit_differences() -> None:
    # Constant transit: no jitter. Transit alternating by 2 ms: J climbs towards 2 ms (|D| = 2).
    assert rfc3550_jitter(np.full(50, 3.0)).max() == 0.0
    alternating = rfc3550_jitter(np.array([0.0, 2.0] * 200))
    assert alternating[0] == pytest.approx(2 / 16)
    assert alternating[-1] == pytest.approx(2.0, abs=1e-3)
    assert np.all(np.diff(alternating) >= 0)


def test_repeated_runs_report_the_median_run(monkeypatch: pytest.MonkeyPatch) -> None:
    p99s = iter([3.0, 1.0, 2.0])

    def fake_run(streams: int, seconds: float, **kwargs: Any) -> dict[str, Any]:
        p99 = next(p99s)
        return {
            "cpu_us_per_frame": {"in": p99 * 10, "out": 5.0},
            "send_jitter_ms": {"p99": p99},
            "packets": {"lost": 0},
            "steal_percent": 0.0,
            "clock": {"max_lateness_ms": p99, "lateness_ms": {"p50": 0.1, "p99": p99 / 2}},
        }

    monkeypatch.setattr(bench, "run_once", fake_run)
    report = bench.run_repeated(10, 1.0, 3)
    assert report["send_jitter_ms"]["p99"] == 2.0 and report["cpu_us_per_frame"]["in"] == 20.0
    assert [r["send_jitter_p99_ms"] for r in report["repeats"]] == [3.0, 1.0, 2.0]
    assert [r["tick_lateness_p99_ms"] for r in report["repeats"]] == [1.5, 0.5, 1.0]
    with pytest.raises(ValueError):
        bench.run_repeated(10, 1.0, 0)


def test_cli_rejects_bad_repeat(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["bench", "media", "--repeat", "0"])
    assert args.func(args) == 2
    assert "--repeat must be" in capsys.readouterr().err

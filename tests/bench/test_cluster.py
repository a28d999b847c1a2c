"""`bench cluster`: SIPp through Kamailio to one and two private Asterisks, every call counted where it went."""
from __future__ import annotations

import argparse

import pytest

from flowengine.bench.cluster import Options, run_cluster_bench
from flowengine.cli import bench_cluster


@pytest.mark.asterisk
def test_cluster_bench_reports_both_runs_and_their_ratio() -> None:
    report = run_cluster_bench(Options(calls=60, concurrency=10))
    one, two = report["one"], report["two"]
    print(report)  # shown when an assertion fails
    assert (one["calls_ok"], one["calls_failed"], one["calls_per_asterisk"]) == (60, 0, [60])
    assert (two["calls_ok"], two["calls_failed"], two["calls_per_asterisk"]) == (60, 0, [30, 30])  # round-robin
    assert one["calls_per_second"] > 0 and two["calls_per_second"] > 0
    assert report["ratio"] == round(two["calls_per_second"] / one["calls_per_second"], 2)
    # CPU comes from /proc in 10 ms ticks: a process that did little in one run can read 0, so only the sums must move
    assert len(two["cpu_ms_per_call"]["asterisk"]) == 2
    for run in (one, two):
        cpu = run["cpu_ms_per_call"]
        assert all(v >= 0 for v in [cpu["kamailio"], cpu["sipp"], *cpu["asterisk"]])
    assert sum(one["cpu_ms_per_call"]["asterisk"]) + sum(two["cpu_ms_per_call"]["asterisk"]) > 0
    assert {"machine", "load_average", "calls", "concurrency", "hold_ms"} <= report.keys()


def test_cluster_bench_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(calls=-1, concurrency=0, hold_ms=-1, engines=False, json=True)
    assert bench_cluster.run(args) == 2
    err = capsys.readouterr().err
    assert "--calls must be" in err and "--concurrency must be" in err and "--hold-ms must be" in err


@pytest.mark.asterisk
def test_cluster_bench_with_engine_nodes() -> None:
    report = run_cluster_bench(Options(calls=20, concurrency=5, engines=True))
    one, two = report["one"], report["two"]
    print(report)  # shown when an assertion fails
    assert report["engines"] is True
    assert (one["calls_ok"], one["calls_failed"], one["calls_per_asterisk"]) == (20, 0, [20])
    assert (two["calls_ok"], two["calls_failed"], two["calls_per_asterisk"]) == (20, 0, [10, 10])
    assert len(one["cpu_ms_per_call"]["engine"]) == 1 and len(two["cpu_ms_per_call"]["engine"]) == 2
    assert all(ms > 0 for ms in two["cpu_ms_per_call"]["engine"])

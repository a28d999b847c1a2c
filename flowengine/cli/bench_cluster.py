"""`flowengine bench cluster`: calls per second through Kamailio to one private Asterisk and to two."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MAX_CALLS = 100_000
MAX_CONCURRENCY = 1000
MAX_HOLD_MS = 60_000


def add_parser(bench_sub: Any) -> None:
    parser = bench_sub.add_parser(
        "cluster",
        help="calls per second through Kamailio to one node and to two (SIPp load, JSON, ratio)",
        description="Two private Asterisks answering with a plain dialplan (or, with --engines, each with its "
        "engine node running a flow that answers and holds), Kamailio in front of the first alone and then of "
        "both, and the same SIPp load each time: calls per second, how the calls were spread, and the CPU each "
        "process spent per call. On one host both runs share its cores.",
    )
    parser.add_argument("--calls", type=int, default=0, help="calls per run (default 3000, 300 with --engines)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls SIPp keeps up at once (default 50)")
    parser.add_argument("--hold-ms", type=int, default=0, help="how long each call stays answered (default 0)")
    parser.add_argument("--engines", action="store_true",
                        help="each Asterisk hands its calls to an engine node (`flowengine serve`)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problems = []
    if args.calls == 0:
        args.calls = 300 if args.engines else 3000
    if not 1 <= args.calls <= MAX_CALLS:
        problems.append(f"--calls must be 1..{MAX_CALLS}")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        problems.append(f"--concurrency must be 1..{MAX_CONCURRENCY}")
    if not 0 <= args.hold_ms <= MAX_HOLD_MS:
        problems.append(f"--hold-ms must be 0..{MAX_HOLD_MS}")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 2
    from flowengine.asterisk.instance import InstanceError
    from flowengine.asterisk.kamailio import KamailioError
    from flowengine.bench.cluster import ClusterBenchError, Options, run_cluster_bench
    from flowengine.bench.engine_node import EngineNodeError

    log = None if args.json else (lambda line: print(line, file=sys.stderr))
    try:
        report = run_cluster_bench(Options(args.calls, args.concurrency, args.hold_ms, args.engines), log=log)
    except (ClusterBenchError, KamailioError, InstanceError, EngineNodeError) as exc:
        print(f"flowengine bench cluster: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
        return 0
    for name in ("one", "two"):
        run_ = report[name]
        print(f"{run_['nodes']} node(s): {run_['calls_per_second']} calls/s, {run_['calls_ok']} ok, "
              f"{run_['calls_failed']} failed, spread {run_['calls_per_asterisk']}, CPU ms per call "
              f"{json.dumps(run_['cpu_ms_per_call'])}")
    print(f"ratio two/one: {report['ratio']}  load average {report['load_average']}")
    return 0

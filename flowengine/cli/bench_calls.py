"""`bench conversation --calls N[,N...]`: argument checks and the table of the concurrent-calls benchmark."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

MAX_CALLS = 60
MAX_STAGGER_S = 60.0


def run_calls(args: argparse.Namespace, log: Callable[[str], None] | None) -> int:
    try:
        counts = tuple(int(n) for n in args.calls.split(",") if n.strip())
    except ValueError:
        counts = ()
    if (not counts or len(counts) > 10 or not all(1 <= n <= MAX_CALLS for n in counts) or args.providers != "offline"
            or not 1 <= args.turns_per_call <= 50 or not 0 <= args.stagger <= MAX_STAGGER_S):
        print(f"--calls takes 1..10 counts of 1..{MAX_CALLS}, comma-separated (offline providers only), "
              f"--turns-per-call 1..50 and --stagger 0..{MAX_STAGGER_S:g} seconds", file=sys.stderr)
        return 2
    import asyncio

    from flowengine.bench.conversation_calls import run_calls_bench

    report = asyncio.run(run_calls_bench(counts, args.turns_per_call, realtime=args.realtime,
                                         stagger_s=args.stagger, log=log))
    print(json.dumps(report) if args.json else format_calls(report))
    return 0


def format_calls(report: dict[str, Any]) -> str:
    header = (f"{'calls':>5} {'turns':>5} {'v2v p50':>8} {'v2v p95':>8} {'stt p95':>8} {'worst tick':>10} "
              f"{'stalls':>6} {'CPU/call':>8} {'asterisk':>8} {'load':>5} {'ok':>3}")
    lines = [header, *(_row(r) for r in report["runs"])]
    lines.append(f"callers' first lines spread over {report['stagger_s']:g} s")
    lines.append(f"largest N within budget: {report['max_calls_within_budget']} ({report['definitions']['within_budget']})")
    return "\n".join(lines)


def _row(r: dict[str, Any]) -> str:
    v2v, clock = r["voice_to_voice_ms"], r["clock"]
    return (f"{r['calls']:>5} {r['turns']:>5} {v2v['p50']!s:>8} {v2v['p95']!s:>8} {r['stt_ms']['p95']!s:>8} "
            f"{clock['worst_tick_ms']:>10} {clock['stalls_over_60ms']:>6} {r['cpu_percent_per_call']:>7}% "
            f"{r['asterisk_cpu_percent']:>7}% {r['load_average_1m'][1]:>5} {'yes' if r['within_budget'] else 'no':>3}")

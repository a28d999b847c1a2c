"""`flowengine bench understanding`: the caller corpus as real calls, scored (WER, slots, bookings) per voice and SNR."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MAX_CONCURRENCY = 10


def add_parser(bench_sub: Any) -> None:
    from flowengine.bench.understanding import DEFAULT_CONCURRENCY, DEFAULT_DIALOGUES

    parser = bench_sub.add_parser(
        "understanding",
        help="corpus callers (espeak-ng voices, phone band, noise, pauses) in real calls: WER, slots, bookings",
        description="One real call through a private Asterisk to the offline AI receptionist per dialogue x voice "
        "x SNR of the caller corpus. The caller says each line once the agent has finished its turn, and a value it "
        "gave again when the agent asks for it again. Reports the "
        "WER of the engine's transcript, slot accuracy, booking success (the receptionist's appointment variables "
        "against the dialogue's), lines split into several turns and voice-to-voice latency, per voice and SNR.",
    )
    parser.add_argument("--dialogues", default=",".join(DEFAULT_DIALOGUES),
                        help="comma-separated corpus dialogues (default %(default)s)")
    parser.add_argument("--voices", default="", help="comma-separated corpus voices (default: all)")
    parser.add_argument("--snr", default="clean,20,10", help="noise levels in dB, or clean (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"calls at once, 1..{MAX_CONCURRENCY} (default %(default)s)")
    parser.add_argument("--budget", type=float, default=1800.0,
                        help="no new call starts after this many seconds (default %(default)s)")
    parser.add_argument("--correcting", action="store_true",
                        help="the caller says no to a read-back that gets its booking wrong, with the right value")
    parser.add_argument("--blind", action="store_true",
                        help="the caller says its lines only: asked again for a value, it does not say it again")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from flowengine.bench.understanding import cases, parse_snr, run_understanding_bench
    from flowengine.logs import setup_logging

    try:
        grid = cases(_names(args.dialogues), _names(args.voices), [parse_snr(s) for s in _names(args.snr)])
    except ValueError as exc:
        print(f"bench understanding: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.concurrency <= MAX_CONCURRENCY or not grid:
        print(f"--concurrency must be 1..{MAX_CONCURRENCY}, and at least one dialogue, voice and SNR",
              file=sys.stderr)
        return 2
    setup_logging("WARNING", "text")
    log = lambda line: print(line, file=sys.stderr, flush=True)
    report = asyncio.run(run_understanding_bench(grid, args.concurrency, args.budget, log, correcting=args.correcting,
                                                blind=args.blind))
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(report))
    return 0


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def format_table(report: dict[str, Any]) -> str:
    header = f"{'group':<22} {'calls':>5} {'WER':>6} {'slots':>6} {'booked':>6} {'split':>5} {'v2v p50':>8} {'v2v p95':>8}"
    lines = [header]
    groups = [("overall", report["overall"])]
    groups += [(f"voice {k}", v) for k, v in report["by_voice"].items()]
    groups += [(f"snr {k}", v) for k, v in report["by_snr"].items()]
    for name, g in groups:
        lines.append(f"{name:<22} {g['calls']:>5} {g['wer']!s:>6} {g['slot_accuracy']!s:>6} "
                     f"{g['booking_success']!s:>6} {g['split_lines']:>5} {g['voice_to_voice_ms']['p50']!s:>8} "
                     f"{g['voice_to_voice_ms']['p95']!s:>8}")
    lines.append(f"{report['calls']} calls ({report['skipped']} skipped) at concurrency {report['concurrency']} in "
                 f"{report['seconds']} s; load average {report['machine'].get('load_average')}")
    return "\n".join(lines)

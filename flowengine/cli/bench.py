"""The `bench` subcommand: `bench media` (audio engine capacity, pacing), `bench conversation` (AI turns), `bench capacity`."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DEFAULT_STREAMS = 300
DEFAULT_SECONDS = 10.0
MAX_SECONDS = 600.0
MAX_STREAMS = 5000
MAX_REPEATS = 9
DEFAULT_FLOOR_SECONDS = 5.0
MAX_FLOOR_SECONDS = 60.0
CAPACITY_CALLS = (1, 25, 50, 100, 150, 200)
MAX_CAPACITY_CALLS = 1000
MAX_DELAY_MS = 5000.0
MAX_BUDGET = 3600.0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("bench", help="benchmarks that print their figures (JSON with --json)")
    bench_sub = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    bench_sub.required = True
    media = bench_sub.add_parser(
        "media",
        help="media engine: CPU per frame, send jitter, max streams",
        description="N full-duplex u-law RTP streams between real MediaSessions and a separate "
        "Asterisk-like process over loopback.",
    )
    media.add_argument("--streams", type=int, default=DEFAULT_STREAMS, help=f"concurrent streams (default {DEFAULT_STREAMS})")
    media.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help=f"measured seconds (default {DEFAULT_SECONDS:g})")
    media.add_argument("--json", action="store_true", help="print one JSON object")
    media.add_argument("--no-search", action="store_true", help="skip the max-streams search (reported as null)")
    media.add_argument("--search-budget", type=float, default=90.0, help="seconds allowed for the max-streams search")
    media.add_argument("--uvloop", action="store_true", help="run the engine on uvloop instead of asyncio's loop")
    media.add_argument(
        "--repeat", type=int, default=1, help=f"main runs (1..{MAX_REPEATS}); the one with the median p99 is reported"
    )
    media.add_argument(
        "--peer-drain", choices=("wake", "tick"), default="wake",
        help="wake: the peer sleeps on its sockets, so each send also wakes it, as Asterisk's threads would "
        "(default); tick: it drains them every 5 ms, so the figures are the engine's alone",
    )
    media.add_argument(
        "--host-floor", type=float, default=DEFAULT_FLOOR_SECONDS, metavar="SECONDS",
        help=f"first measure how late an idle timer wakes on this host (default {DEFAULT_FLOOR_SECONDS:g} s; 0: skip)",
    )
    media.set_defaults(func=run_media)
    conversation = bench_sub.add_parser(
        "conversation",
        help="AI call: voice-to-voice latency, engine overhead and barge-in over scripted turns",
        description="A private Asterisk, the demo AI receptionist (offline stack) and a scripted caller: "
        "voice-to-voice latency measured at the caller per turn, engine overhead per turn, and how fast "
        "the agent stops when the caller interrupts.",
    )
    conversation.add_argument("--turns", type=int, default=20, help="caller turns (default 20)")
    conversation.add_argument("--barge-ins", type=int, default=5, help="interruptions (default 5)")
    conversation.add_argument("--json", action="store_true", help="print one JSON object")
    conversation.add_argument("--calls", default="", metavar="N[,N...]",
                              help="offline: N simultaneous real calls per count, and the largest N within budget")
    conversation.add_argument("--turns-per-call", type=int, default=5, help="with --calls: each caller's turns (default 5)")
    conversation.add_argument("--realtime", action="store_true", help="with --calls: the engine's media.realtime on")
    conversation.add_argument("--stagger", type=float, default=6.0, metavar="S",
                              help="with --calls: the callers' first lines spread over S seconds (default 6; 0: every "
                              "caller on the same line at the same moment)")
    conversation.add_argument(
        "--providers", choices=("offline", "cloud"), default="offline",
        help="offline: piper, whisper and the rule engine (default); cloud: Deepgram, ElevenLabs and Anthropic, "
        "each a local fake started in-process, with the providers' time and the turn-ending comparison reported")
    conversation.add_argument("--network-delay-ms", type=float, default=50.0,
                              help="cloud: the delay every provider answer pays (default 50)")
    conversation.add_argument(
        "--vad-stop-secs", default="", metavar="S[,S...]",
        help="cloud: one run per VAD stop time (default: the VAD's default, then 0.6)")
    conversation.set_defaults(func=run_conversation)
    turns = bench_sub.add_parser(
        "turns",
        help="turn-taking on the caller corpus: false cuts of paused lines against the wait after the last word",
        description="The corpus lines with pauses mid-thought (every voice, clean, 20 and 10 dB) and the complete "
        "lines (clean), through the real VAD and recogniser: how often each way of ending turns (plain VAD, the "
        "old judge, the judge that weighs what was said against what was asked) splits a line into several "
        "turns, and how long it waits after the caller's last word.",
    )
    turns.add_argument("--voices", type=int, default=0, help="only the first N corpus voices (default: all)")
    turns.add_argument("--clean-only", action="store_true", help="no noisy lines (default: clean, 20 and 10 dB)")
    turns.add_argument("--json", action="store_true", help="print one JSON object")
    turns.set_defaults(func=run_turns)
    speech_start = bench_sub.add_parser(
        "speech-start",
        help="first-audio time of replies of 5..70 words, before/after the first piece became a clause",
        description="Replies of one sentence in comma-separated clauses, streamed word by word into the sentence "
        "splitter; the time to the offline voice's (piper) first audio of the first piece, with the old rule "
        "(whole first sentence, all of it synthesised) and the new (first clause, first sentence yielded).",
    )
    speech_start.add_argument("--repeats", type=int, default=3, help=f"runs per reply length (1..{MAX_REPEATS})")
    speech_start.add_argument("--json", action="store_true", help="print one JSON object")
    speech_start.set_defaults(func=run_speech_start)
    recognition = bench_sub.add_parser(
        "recognition",
        help="the recogniser on the caller corpus: WER, slots and bookings per voice and noise, CPU per utterance",
        description="Every corpus line rendered per voice and SNR, over an 8 kHz u-law line, transcribed by the "
        "offline Whisper as the call would (in the context of the agent's last question) and replayed through "
        "the rules dialog (appointments). Offline: no Asterisk.",
    )
    recognition.add_argument("--voices", default="", help="comma-separated voice names (default: all)")
    recognition.add_argument("--snr", default="clean,20,10", help="noise levels: clean and/or dB (default %(default)s)")
    recognition.add_argument("--dialogues", default="", help="comma-separated dialogue names (default: all)")
    recognition.add_argument("--model", choices=("tiny.en", "base"), default="", help="Whisper model (default: the provider's)")
    recognition.add_argument("--no-context", action="store_true", help="transcribe without the question's context")
    recognition.add_argument("--names", action="store_true", help="give name questions the names on file as hints")
    recognition.add_argument("--prompt", action="store_true", help="decode after the agent's question as previous text")
    recognition.add_argument("--beam", type=int, default=1, help="beam size of the free transcript (1: greedy)")
    recognition.add_argument("--correcting", action="store_true",
                             help="the caller says no to a read-back that gets the booking wrong, with the right value")
    recognition.add_argument("--blind", action="store_true",
                             help="the caller says its lines only: asked again for a value, it does not say it again")
    recognition.add_argument("--no-denoise", action="store_true",
                             help="no noise suppression before the recogniser (on by default, for noisy utterances)")
    recognition.add_argument("--json", action="store_true", help="print one JSON object")
    recognition.set_defaults(func=run_recognition)
    capacity = bench_sub.add_parser(
        "capacity",
        help="concurrent AI calls (cloud speech and LLM) one engine process carries",
        description="N concurrent AI conversations over real MediaSessions, fed RTP by a separate callers process "
        "that speaks scripted turns and times each reply; Deepgram, ElevenLabs and Anthropic are local fakes in a "
        "third process answering after a network delay. Runs N=1, then each N in --calls until the voice-to-voice "
        "p95 exceeds N=1's by more than 100 ms.",
    )
    capacity.add_argument("--calls", default=",".join(map(str, CAPACITY_CALLS)),
                          help="call counts to try in order, comma-separated (default %(default)s)")
    capacity.add_argument("--seconds", type=float, default=25.0, help="measured seconds per N (default 25)")
    capacity.add_argument("--baseline-seconds", type=float, default=40.0,
                          help="measured seconds of the N=1 baseline (default 40)")
    capacity.add_argument("--delay-ms", type=float, default=50.0,
                          help="each provider answer's network delay (default 50)")
    capacity.add_argument("--budget", type=float, default=600.0,
                          help="no new N starts after this many seconds (default 600)")
    capacity.add_argument("--json", action="store_true", help="print one JSON object")
    capacity.set_defaults(func=run_capacity)
    from flowengine.cli import bench_understanding  # its own module: several helpers edit this one
    bench_understanding.add_parser(bench_sub)
    from flowengine.cli import bench_cluster  # its own module too
    bench_cluster.add_parser(bench_sub)


def run_recognition(args: argparse.Namespace) -> int:
    import asyncio

    from flowengine.bench.corpus import DIALOGUES, VOICES
    from flowengine.bench.recognition import NAMES_ON_FILE, run_recognition_bench
    from flowengine.logs import setup_logging
    from flowengine.providers.stt.whisper import WhisperSTT

    voices = _pick(VOICES, args.voices, "voice")
    dialogues = _pick(DIALOGUES, args.dialogues, "dialogue")
    try:
        snrs = [None if s.strip() == "clean" else float(s) for s in args.snr.split(",") if s.strip()]
    except ValueError:
        print(f"--snr: use clean and/or numbers of dB, got {args.snr!r}", file=sys.stderr)
        return 2
    if voices is None or dialogues is None or not snrs:
        return 2
    setup_logging("WARNING", "text")
    log = None if args.json else (lambda line: print(line, file=sys.stderr))
    stt = WhisperSTT(model=args.model, prompt_question=args.prompt, beam_size=args.beam, denoise=not args.no_denoise)
    report = asyncio.run(run_recognition_bench(
        stt, voices=voices, snrs=snrs, dialogues=dialogues, context=not args.no_context,
        names=NAMES_ON_FILE if args.names else (), correcting=args.correcting, blind=args.blind, log=log))
    report["prompt"] = args.prompt
    report["denoise"] = not args.no_denoise
    report["machine"] = _machine()
    if args.json:
        print(json.dumps(report))
    else:
        for snr, cell in report["by_snr"].items():
            print(f"{snr:>5}  {json.dumps(cell)}")
        print(f"overall {json.dumps(report['overall'])}")
    return 0


def _pick(items: Any, wanted: str, what: str) -> Any:
    if not wanted:
        return list(items)
    names = {item.name: item for item in items}
    chosen = [names.get(w.strip()) for w in wanted.split(",") if w.strip()]
    if None in chosen or not chosen:
        print(f"--{what}s: choose among {', '.join(names)}", file=sys.stderr)
        return None
    return chosen


def _machine() -> dict[str, Any]:
    import os

    from flowengine.bench.host import machine

    return {**machine(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def run_conversation(args: argparse.Namespace) -> int:
    import asyncio

    from flowengine.bench.conversation import run_conversation_bench
    from flowengine.logs import setup_logging

    if not 1 <= args.turns <= 200 or not 0 <= args.barge_ins <= 50:
        print("--turns must be 1..200 and --barge-ins 0..50", file=sys.stderr)
        return 2
    setup_logging("WARNING", "text")
    log = None if args.json else (lambda line: print(line, file=sys.stderr))
    if args.calls:
        from flowengine.cli.bench_calls import run_calls
        return run_calls(args, log)
    if args.providers == "cloud":
        return _run_cloud_conversation(args, log)
    report = asyncio.run(run_conversation_bench(args.turns, args.barge_ins, log))
    if args.json:
        print(json.dumps(report))
    else:
        for key in ("voice_to_voice_ms", "engine_ms", "barge_in_stop_ms"):
            print(f"{key:<20} p50 {report[key]['p50']!s:>7}  p95 {report[key]['p95']!s:>7}")
        print(f"turns {report['turns']}, barge-ins {report['barge_ins']} ({report['barge_ins_resumed']} went on "
              f"after a pause), machine {report['machine']}")
        print(f"barge_in_stop_ms: {report['definitions']['barge_in_stop_ms']}")
    return 0


def _run_cloud_conversation(args: argparse.Namespace, log: Any) -> int:
    import asyncio

    from flowengine.bench.cloud_conversation import COMPARED_STOP_SECS, run_cloud_conversation_bench

    try:
        stops = tuple(float(s) for s in args.vad_stop_secs.split(",")) if args.vad_stop_secs else COMPARED_STOP_SECS
    except ValueError:
        print("--vad-stop-secs takes numbers separated by commas, e.g. 0.2,0.6", file=sys.stderr)
        return 2
    if not 0 <= args.network_delay_ms <= 5000 or not stops or not all(0 < s <= 5 for s in stops):
        print("--network-delay-ms must be 0..5000 and each --vad-stop-secs in (0, 5]", file=sys.stderr)
        return 2
    report = asyncio.run(run_cloud_conversation_bench(args.turns, args.barge_ins, network_delay_ms=args.network_delay_ms,
                                                      stop_secs=stops, log=log))
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"providers {', '.join(report['vendors'].values())}, +{report['network_delay_ms']:g} ms per answer")
    for run in report["runs"]:
        ends, prov = run["turn_ends"], run["provider_ms"]
        print(f"VAD stop_secs {run['vad_stop_secs']:g}: {run['turns']} turns")
        for key, value in (("voice_to_voice_ms", run["voice_to_voice_ms"]), ("engine_ms", run["engine_ms"]),
                           *prov.items(), ("endpointing_ms", ends["endpointing_ms"]),
                           ("barge_in_stop_ms", run["barge_in_stop_ms"])):
            print(f"  {key:<20} p50 {value['p50']!s:>7}  p95 {value['p95']!s:>7}")
        print(f"  turns ended by the recogniser {ends['by_recogniser']}, by the VAD {ends['by_vad']}, "
              f"false cuts {ends['false_cuts']} ({ends['false_cuts_by_recogniser']} by the recogniser) in "
              f"{ends['utterances']} utterances; engine_ms within {run['engine_ms_target']:g} ms: "
              f"{run['engine_ms_within_target']}")
    print(report["turn_ending"]["summary"])
    return 0


def run_capacity(args: argparse.Namespace) -> int:
    try:
        calls = tuple(int(n) for n in args.calls.split(",") if n.strip())
    except ValueError:
        calls = ()
    problems = []
    if not calls or not all(1 <= n <= MAX_CAPACITY_CALLS for n in calls) or len(calls) > 20:
        problems.append(f"--calls must be 1..20 counts of 1..{MAX_CAPACITY_CALLS}, comma-separated")
    if not 1 <= args.seconds <= MAX_SECONDS or not 1 <= args.baseline_seconds <= MAX_SECONDS:
        problems.append(f"--seconds and --baseline-seconds must be 1..{MAX_SECONDS:g}")
    if not 0 <= args.delay_ms <= MAX_DELAY_MS:
        problems.append(f"--delay-ms must be 0..{MAX_DELAY_MS:g}")
    if not 0 <= args.budget <= MAX_BUDGET:
        problems.append(f"--budget must be 0..{MAX_BUDGET:g}")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 2
    from flowengine.bench.capacity import Options, run_capacity_bench
    from flowengine.logs import setup_logging

    setup_logging("WARNING", "text")
    log = None if args.json else (lambda line: print(line, file=sys.stderr))
    options = Options(seconds=args.seconds, baseline_seconds=args.baseline_seconds, delay_ms=args.delay_ms)
    report = run_capacity_bench(calls, options, budget=args.budget, log=log)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_capacity(report))
    return 0


def format_capacity(report: dict[str, Any]) -> str:
    header = (f"{'calls':>6} {'turns':>6} {'v2v p50':>8} {'v2v p95':>8} {'engine p95':>10} {'engine CPU':>10} "
              f"{'lost in/out':>11} {'unanswered':>10}")
    lines = [header]
    for run in report["runs"]:
        v2v, frames = run["voice_to_voice_ms"], run["frames"]
        lost = f"{frames['in']['lost']}/{frames['out']['lost']}"
        lines.append(f"{run['calls']:>6} {run['turns']:>6} {v2v['p50']!s:>8} {v2v['p95']!s:>8} "
                     f"{run['engine_ms']['p95']!s:>10} {run['engine_cpu_percent']!s:>9}% {lost:>11} "
                     f"{run['unanswered_turns']:>10}")
    machine = report["machine"]
    lines.append(f"max calls: {report['max_calls']} ({report['target']}; baseline p95 {report['baseline_p95_ms']} ms)")
    lines.append(f"machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}")
    return "\n".join(lines)


def run_turns(args: argparse.Namespace) -> int:
    import asyncio

    from flowengine.bench.corpus import SNR_DB, VOICES
    from flowengine.bench.turns import run_turn_bench
    from flowengine.providers.stt.whisper import WhisperSTT

    voices = args.voices or len(VOICES)
    if not 1 <= voices <= len(VOICES):
        print(f"--voices must be 1..{len(VOICES)}", file=sys.stderr)
        return 2
    report = asyncio.run(run_turn_bench(WhisperSTT(), voices, (None,) if args.clean_only else SNR_DB))
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['paused_lines']} paused lines, {report['whole_lines']} whole lines; "
          f"voices {', '.join(report['voices'])}; SNR {report['snr_db']}")
    for mode in ("plain", "old_judge", "smart_no_onset", "smart"):
        r = report[mode]
        print(f"{mode:<14} false cuts {r['false_cuts']:>3} ({r['false_cut_rate']:.0%}), whole lines split "
              f"{r['whole_lines_split']}, wait after the last word p50/p95 {r['wait_ms']['p50']}/{r['wait_ms']['p95']} ms "
              f"(whole lines {r['wait_ms_whole_lines']['p50']}/{r['wait_ms_whole_lines']['p95']} ms)")
    print(f"load average {report['load_average']}")
    return 0


def run_speech_start(args: argparse.Namespace) -> int:
    import asyncio

    from flowengine.bench.speech_start import run_speech_start_bench
    from flowengine.providers.tts import TTS_PROVIDERS

    if not 1 <= args.repeats <= MAX_REPEATS:
        print(f"--repeats must be 1..{MAX_REPEATS}", file=sys.stderr)
        return 2
    report = asyncio.run(run_speech_start_bench(TTS_PROVIDERS.create("piper"), args.repeats))
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'words':>6} {'before: words':>14} {'first audio':>12} {'after: words':>13} {'first audio':>12}")
    for row in report["replies"]:
        b, a = row["before"], row["after"]
        print(f"{row['words']:>6} {b['first_piece_words']:>14} {b['first_audio_ms_p50']:>10} ms "
              f"{a['first_piece_words']:>13} {a['first_audio_ms_p50']:>10} ms")
    print(f"load average {report['load_average']}, {report['machine']['cpu']}, {report['machine']['cores']} cores")
    return 0


def run_media(args: argparse.Namespace) -> int:
    from flowengine.bench import media as bench

    if not 1 <= args.streams <= MAX_STREAMS:
        print(f"--streams must be 1..{MAX_STREAMS}", file=sys.stderr)
        return 2
    if not 0 < args.seconds <= MAX_SECONDS:
        print(f"--seconds must be in (0, {MAX_SECONDS:g}]", file=sys.stderr)
        return 2
    if not 1 <= args.repeat <= MAX_REPEATS:
        print(f"--repeat must be 1..{MAX_REPEATS}", file=sys.stderr)
        return 2
    if not 0 <= args.host_floor <= MAX_FLOOR_SECONDS:
        print(f"--host-floor must be 0..{MAX_FLOOR_SECONDS:g}", file=sys.stderr)
        return 2
    log = None if args.json else (lambda line: print(line, file=sys.stderr))
    if log and args.host_floor:
        log(f"measuring this host's timer wake-up for {args.host_floor:g} s ...")
    floor = bench.timer_floor(args.host_floor)
    if log:
        times = f" x {args.repeat}" if args.repeat > 1 else ""
        log(f"running {args.streams} streams for {args.seconds:g} s{times} ...")
    report = bench.run_repeated(args.streams, args.seconds, args.repeat, use_uvloop=args.uvloop,
                                peer_drain=args.peer_drain)
    search: dict[str, Any] | None = None
    if not args.no_search:
        if log:
            log("searching the highest stream count with p99 send jitter <= 2 ms ...")
        search = bench.search_max_streams(budget=args.search_budget, use_uvloop=args.uvloop,
                                          peer_drain=args.peer_drain, log=log)
    report["max_streams_p99_2ms"] = None if search is None else search["max_streams"]
    if search is not None:
        report["max_streams_search"] = search
    # An idle process's timer wake-up on this host, measured just before the runs: the floor
    # under the send jitter (None if skipped or not on Linux).
    report["host_timer_wake_ms"] = floor
    report["machine"] = bench.machine()
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(report))
    return 0


def format_table(report: dict[str, Any]) -> str:
    cpu, jitter, packets = report["cpu_us_per_frame"], report["send_jitter_ms"], report["packets"]
    machine = report["machine"]
    native = "" if report.get("native_inbound", True) else ", numpy inbound (C kernel not built)"
    drain = report.get("peer_drain", "wake")
    rows = [
        ("streams", f"{report['streams']} full-duplex, {report['seconds']:g} s, {report['event_loop']}{native}, peer {drain}"),
        ("CPU per frame in", f"{cpu['in']} us"),
        ("CPU per frame out", f"{cpu['out']} us"),
        ("engine CPU", f"{report['engine_cpu_percent']} % of one core (peer {report['peer_cpu_percent']} %)"),
        ("send jitter p50/p99/p99.9", f"{jitter['p50']} / {jitter['p99']} / {jitter['p999']} ms"),
        ("RFC 3550 jitter p50/p99", _rfc3550(report)),
        ("packets sent/received", f"{packets['sent']} / {packets['received']}"),
        ("packets lost/late", f"{packets['lost']} / {packets['late']}"),
        ("max streams (p99 <= 2 ms)", str(report["max_streams_p99_2ms"])),
        ("tick wake-up late p50/p99", _tick_lateness(report)),
        ("idle timer wake-up p50/p99", _floor(report)),
        ("host noise", _noise(report)),
        ("machine", f"{machine['cpu']}, {machine['cores']} cores, Python {machine['python']}"),
    ]
    for i, run in enumerate(report.get("repeats", ()), 1):
        cpu_run = run["cpu_us_per_frame"]
        summary = (f"in {cpu_run['in']} us, out {cpu_run['out']} us, p99 {run['send_jitter_p99_ms']} ms, "
                   f"lost {run['lost']}, steal {run['steal_percent']} %")
        rows.append((f"  run {i}", summary))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _rfc3550(report: dict[str, Any]) -> str:
    jitter = report.get("rfc3550_jitter_ms")
    return "-" if jitter is None else f"{jitter['p50']} / {jitter['p99']} ms"


def _tick_lateness(report: dict[str, Any]) -> str:
    lateness = report.get("clock", {}).get("lateness_ms")
    return "-" if lateness is None else f"{lateness['p50']} / {lateness['p99']} ms"


def _floor(report: dict[str, Any]) -> str:
    floor = report.get("host_timer_wake_ms")
    if floor is None:
        return "-"
    return f"{floor['p50']} / {floor['p99']} ms (max {floor['max']} ms, {floor['wakes']} wakes of an idle process)"


def _noise(report: dict[str, Any]) -> str:
    clock = report.get("clock", {})
    steal = report.get("steal_percent")
    return (f"steal {'-' if steal is None else steal} %, latest tick {clock.get('max_lateness_ms', '-')} ms, "
            f"skipped ticks {clock.get('skipped_ticks', '-')}")

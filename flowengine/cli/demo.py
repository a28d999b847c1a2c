"""`flowengine demo`: a whole AI call on a private Asterisk with the offline stack, printed as it goes."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from flowengine.asterisk.instance import InstanceError
from flowengine.asterisk.sip_accounts import SipAccountError
from flowengine.bench.corpus import VOICES
from flowengine.bench.demo import DEMO_CALLER_VOICE, run_demo
from flowengine.bench.softphone_demo import run_softphone_demo
from flowengine.cli.asterisk import add_sip_arguments, sip_options
from flowengine.logs import setup_logging


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="a whole AI call: a caller books an appointment with the AI receptionist",
        description="Start a private Asterisk and the engine with a flow whose ai_talk step hands the call "
        "to an AI receptionist (offline: Whisper tiny.en, the rule-based dialog engine, piper). A scripted "
        "caller dials in through Asterisk, speaks prepared turns and records what it hears. Prints the "
        "conversation and, per turn, the voice-to-voice latency measured at the caller with its breakdown. "
        "With --sip-account or --sip-trust there is no scripted caller: the receptionist waits for you to "
        "call it from a softphone (how to dial is printed on stderr).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report instead")
    parser.add_argument("--dir", help="work folder (default: a temporary one)")
    parser.add_argument("--engine-model", default="",
                        help="use this LLM instead of the rule engine, e.g. openai.gpt-4o-mini "
                        "(key from OPENAI_API_KEY or the provider's variable)")
    parser.add_argument("--caller-voice", default=DEMO_CALLER_VOICE, metavar="NAME|piper",
                        help=f"the caller's voice: a corpus voice ({', '.join(v.name for v in VOICES)}; default "
                        "%(default)s) or piper (the agent's own voice, pitched up)")
    add_sip_arguments(parser)
    parser.add_argument("--call-timeout", type=float, default=300.0,
                        help="with a SIP account: seconds to wait for someone to call (default 300)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.caller_voice != "piper" and args.caller_voice not in {v.name for v in VOICES}:
        print(f"--caller-voice: no voice {args.caller_voice!r}", file=sys.stderr)
        return 2
    try:
        accounts, bind = sip_options(args)
    except SipAccountError as exc:
        print(f"flowengine demo: {exc}", file=sys.stderr)
        return 2
    if bind is not None and not accounts:
        print("flowengine demo: --sip-bind needs --sip-account or --sip-trust (who may call)", file=sys.stderr)
        return 2
    setup_logging("WARNING", "text")
    with tempfile.TemporaryDirectory(prefix="flowengine-demo-") as tmp:
        folder = Path(args.dir) if args.dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        printer = None if args.json else (lambda line: print(line, flush=True))
        if accounts:
            try:
                report = asyncio.run(run_softphone_demo(
                    folder, accounts, bind=bind, call_timeout=args.call_timeout, engine_model=args.engine_model,
                    on_line=printer, on_ready=lambda text: print(text, file=sys.stderr, flush=True)))
            except InstanceError as exc:
                print(f"flowengine demo: {exc}", file=sys.stderr)
                return 1
        else:
            report = asyncio.run(run_demo(folder, engine_model=args.engine_model, on_line=printer,
                                          voice=args.caller_voice))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    if accounts:
        if report.ended_reason == "no call":
            print(f"demo: nobody called within {args.call_timeout:.0f} s", file=sys.stderr)
            return 1
        return 0
    answered = [t for t in report.turns if t["voice_to_voice_ms"] is not None]
    if not answered:
        print("demo failed: the agent never answered the caller", file=sys.stderr)
        return 1
    return 0

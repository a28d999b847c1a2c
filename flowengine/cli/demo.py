"""`flowengine demo`: a whole AI call on a private Asterisk with the offline stack, printed as it goes."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from flowengine.bench.corpus import VOICES
from flowengine.bench.demo import DEMO_CALLER_VOICE, run_demo
from flowengine.logs import setup_logging


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="a whole AI call: a caller books an appointment with the AI receptionist",
        description="Start a private Asterisk and the engine with a flow whose ai_talk step hands the call "
        "to an AI receptionist (offline: Whisper tiny.en, the rule-based dialog engine, piper). A scripted "
        "caller dials in through Asterisk, speaks prepared turns and records what it hears. Prints the "
        "conversation and, per turn, the voice-to-voice latency measured at the caller with its breakdown.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report instead")
    parser.add_argument("--dir", help="work folder (default: a temporary one)")
    parser.add_argument("--engine-model", default="",
                        help="use this LLM instead of the rule engine, e.g. openai.gpt-4o-mini "
                        "(key from OPENAI_API_KEY or the provider's variable)")
    parser.add_argument("--caller-voice", default=DEMO_CALLER_VOICE, metavar="NAME|piper",
                        help=f"the caller's voice: a corpus voice ({', '.join(v.name for v in VOICES)}; default "
                        "%(default)s) or piper (the agent's own voice, pitched up)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.caller_voice != "piper" and args.caller_voice not in {v.name for v in VOICES}:
        print(f"--caller-voice: no voice {args.caller_voice!r}", file=sys.stderr)
        return 2
    setup_logging("WARNING", "text")
    with tempfile.TemporaryDirectory(prefix="flowengine-demo-") as tmp:
        folder = Path(args.dir) if args.dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        printer = None if args.json else (lambda line: print(line, flush=True))
        report = asyncio.run(run_demo(folder, engine_model=args.engine_model, on_line=printer,
                                      voice=args.caller_voice))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    answered = [t for t in report.turns if t["voice_to_voice_ms"] is not None]
    if not answered:
        print("demo failed: the agent never answered the caller", file=sys.stderr)
        return 1
    return 0

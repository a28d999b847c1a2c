"""`flowengine demo`: one real call through a private Asterisk into the engine, events printed live."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from flowengine.asterisk.ari.events import Event
from flowengine.asterisk.greeting import greeting_handler
from flowengine.config import Config, load_config
from flowengine.logs import setup_logging
from flowengine.runtime import Engine

DEMO_NUMBER = "1000"
CALLER_CONTEXT = "flowengine-demo-caller"


def caller_dialplan(recording: Path) -> str:
    """The calling side: records everything it hears, waits for the engine to hang up."""
    return (
        f"[{CALLER_CONTEXT}]\n"
        f"exten => s,1,MixMonitor({recording})\n"
        " same => n,Wait(30)\n"
        " same => n,Hangup()\n"
    )


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="place a real call through a private Asterisk into the engine",
        description="Start a private Asterisk and the engine, call the engine through Asterisk's "
        "dialplan (AMI Originate of a Local channel), let it answer, greet and hang up, and print "
        "the ARI events as they happen.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of a log")
    parser.add_argument("--dir", help="folder for the private Asterisk (default: a temporary one)")
    parser.add_argument("--greeting", default="sound:hello-world", help="media the engine plays")
    parser.set_defaults(func=run)


def describe(event: Event) -> str:
    for attr in ("channel", "peer", "bridge", "playback", "recording"):
        obj = getattr(event, attr, None)
        if obj is not None:
            label = getattr(obj, "name", "") or getattr(obj, "id", "")
            extra = getattr(obj, "state", "") or ""
            return f"{label} {extra}".strip()
    return ""


def heard_audio(recording: Path) -> dict[str, float]:
    """Duration and loudness of what the caller side recorded."""
    with wave.open(str(recording)) as w:
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    return {"heard_ms": round(1000 * samples.size / rate), "heard_rms": round(rms, 1)}


async def demo(config: Config, greeting: str, as_json: bool, folder: Path) -> dict[str, Any]:
    recording = folder / "caller-heard.wav"
    engine = Engine(config, greeting_handler(greeting), extra_dialplan=caller_dialplan(recording))
    events: list[dict[str, Any]] = []
    t0 = time.monotonic()
    await engine.start()
    assert engine.ari is not None and engine.ami is not None and engine.app is not None
    app = engine.app

    def on_event(event: Event) -> None:
        row = {"t_ms": round(1000 * (time.monotonic() - t0)), "type": event.type, "about": describe(event)}
        events.append(row)
        if not as_json:
            print(f"{row['t_ms']:>6} ms  {row['type']:<24} {row['about']}", flush=True)

    sub = engine.ari.subscribe(on_event)
    try:
        if not as_json:
            print(f"Asterisk {engine.ari.asterisk_version} up; calling {DEMO_NUMBER} through the dialplan",
                  flush=True)
        result = await engine.ami.originate(
            f"Local/{DEMO_NUMBER}@flowengine-inbound", context=CALLER_CONTEXT, exten="s",
            caller_id='"flowengine demo" <5550100>', codecs="ulaw", timeout_ms=15000)
        deadline = time.monotonic() + 30
        while (app.calls_started == 0 or app.calls) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # let the caller leg finish writing its recording
    finally:
        sub.close()
        await engine.aclose()
    report: dict[str, Any] = {
        "originate": {"success": result.success, "reason": result.reason},
        "calls": app.calls_started,
        "events": events,
        "ended_reason": "completed" if any(e["type"] == "StasisEnd" for e in events) else "unknown",
    }
    if recording.exists():
        report.update(heard_audio(recording))
    return report


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="flowengine-demo-") as tmp:
        folder = Path(args.dir) if args.dir else Path(tmp)
        config = load_config(None, {"FLOWENGINE_ASTERISK__PRIVATE_DIR": str(folder / "asterisk")})
        setup_logging("WARNING" if args.json else "INFO", "text")
        report = asyncio.run(demo(config, args.greeting, args.json, folder))
    ok = report["originate"]["success"] and report.get("heard_rms", 0) > 0
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"caller heard {report.get('heard_ms', 0)} ms of audio (rms {report.get('heard_rms', 0)}); "
              f"ended: {report['ended_reason']}")
    if not ok:
        print("demo failed: the caller did not hear the greeting", file=sys.stderr)
    return 0 if ok else 1

"""`flowengine asterisk start|stop|status`: the private Asterisk on loopback."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flowengine.asterisk.instance import InstanceError, PrivateAsterisk

DEFAULT_DIR = "run/asterisk"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "asterisk",
        help="start, stop or inspect a private Asterisk on loopback",
        description="Manage a private Asterisk (free loopback ports, configs rendered from asterisk-conf/).",
    )
    parser.add_argument("action", choices=("start", "stop", "status"), help="what to do")
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"instance folder (default: {DEFAULT_DIR})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ARI on start")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    instance = PrivateAsterisk(args.dir)
    try:
        if args.action == "start":
            info = instance.start(args.timeout)
            print(json.dumps({"running": True, **info.to_dict()}, indent=2))
            return 0
        if args.action == "stop":
            stopped = instance.stop()
            print(json.dumps({"running": False, "stopped": stopped, "directory": str(instance.directory)}))
            return 0
        info_or_none = instance.load_info()
        running = instance.running()
        report: dict[str, object] = {"running": running, "directory": str(instance.directory)}
        if info_or_none is not None:
            report.update(info_or_none.to_dict())
        print(json.dumps(report, indent=2))
        return 0 if running else 3
    except InstanceError as exc:
        print(f"flowengine asterisk {args.action}: {exc}", file=sys.stderr)
        return 1

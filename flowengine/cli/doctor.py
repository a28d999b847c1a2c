"""`flowengine doctor [--config FILE] [--json]`: checks a deployment, names each failure with its fix; exit 1 on one."""
from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from flowengine.doctor.run import run_doctor


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor", help="check a deployment: ARI, the engine's app, RTP, speech HTTP, the store, providers' keys",
        description="Checks what the engine of this config needs, from the engine's host: ARI answers with its "
        "credentials, the engine holds its ARI app, RTP from Asterisk reaches the media ports, Asterisk fetches "
        "from the speech HTTP server, the store is migrated, every AI's providers have their keys. Exit 0 when "
        "nothing failed, 1 otherwise.")
    parser.add_argument("--config", help="the engine's YAML config (FLOWENGINE_* environment variables apply)")
    parser.add_argument("--json", action="store_true", help="one JSON document: {ok, checks: [{name, status, "
                        "detail, fix}]}")
    parser.add_argument("--listen", type=float, default=1.0, metavar="S", help="seconds to count RTP packets")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = asyncio.run(run_doctor(args.config, args.listen))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1

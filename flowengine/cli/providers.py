"""`flowengine providers [--json]`: every STT, TTS and LLM provider by the names the seeds use, whether it is
available with this configuration and, if not, why (no key, not in this engine, refused by design)."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from flowengine.config import ConfigError, load_config
from flowengine.providers import credentials
from flowengine.providers.listing import Row, probe, rows

# Where each cloud speech vendor's own API lives, for --probe (a configured base_url wins).
DEFAULT_HOSTS = {
    "deepgram": "https://api.deepgram.com", "elevenlabs": "https://api.elevenlabs.io",
    "cartesia": "https://api.cartesia.ai", "openai": "https://api.openai.com", "hume": "https://api.hume.ai",
    "playht": "https://api.play.ht", "google": "https://texttospeech.googleapis.com",
}


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("providers", help="list the speech and LLM providers and whether each is available")
    parser.add_argument("--config", help="YAML config file (its speech.providers keys and base URLs)")
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument("--probe", action="store_true",
                        help="also try a TCP connection to each available provider's server (reachable: yes/no)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, need_asterisk=False)
    except ConfigError as exc:
        print(f"flowengine providers: {exc}", file=sys.stderr)
        return 2
    credentials.configure(config.speech.accesses())
    found = rows()
    if args.probe:
        found = asyncio.run(_probe_all(found))
    if args.json:
        print(json.dumps({"providers": [r.as_dict() for r in found]}, indent=2))
        return 0
    width = max(len(r.name) for r in found)
    for row in found:
        reach = "" if row.reachable is None else ("  reachable" if row.reachable else "  UNREACHABLE")
        line = f"{row.kind:<4} {row.name:<{width}}  {row.status}{reach}"
        if row.base_url:
            line += f"  ({row.base_url})"
        print(line + (f": {row.reason}" if row.reason else ""))
    return 0


async def _probe_all(found: list[Row]) -> list[Row]:
    return list(await asyncio.gather(*(probe(r, DEFAULT_HOSTS) for r in found)))

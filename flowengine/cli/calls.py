"""`flowengine calls show ID`: one call's timeline (flow actions, AI turns and their latencies, barge-ins, tool
calls, webhooks sent, the end) from the store, for an operator asking "what happened on this call?"."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from flowengine.api.timeline.view import render_text, timeline_view
from flowengine.config import Config, ConfigError, load_config
from flowengine.runtime import open_store
from flowengine.store.errors import NotFoundError, StoreError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("calls", help="look at calls the engine handled")
    commands = parser.add_subparsers(dest="calls_command", metavar="SUBCOMMAND")
    commands.required = True
    show = commands.add_parser("show", help="one call's timeline: actions, AI turns, barge-ins, tools, webhooks, end")
    show.add_argument("call_id")
    show.add_argument("--config", help="engine YAML config file (its store is read)")
    show.add_argument("--json", action="store_true", help="the API's JSON (GET /v1.0/calls/ID/timeline)")
    show.add_argument("--webhooks", action="store_true", help="list every webhook sent (default: count them)")
    show.set_defaults(func=show_call)


def show_call(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, need_asterisk=False)  # it reads the store only
    except ConfigError as exc:
        print(f"flowengine calls show: invalid configuration {exc}", file=sys.stderr)
        return 2
    try:
        view = asyncio.run(_view(config, args.call_id))
    except StoreError as exc:
        print(f"flowengine calls show: {exc}", file=sys.stderr)  # names store.url (passwords masked)
        return 2
    if view is None:
        print(f"flowengine calls show: no call {args.call_id!r} in this engine's store", file=sys.stderr)
        return 1
    print(json.dumps(view, indent=2) if args.json else render_text(view, webhooks=args.webhooks))
    return 0


async def _view(config: Config, call_id: str) -> dict[str, Any] | None:
    store = await open_store(config)
    try:
        owner = await store.timelines.owner_of_call(call_id)
        if owner is None:
            return None
        try:
            call = await store.calls.get(owner, call_id)
        except NotFoundError:
            return None
        return timeline_view(call, await store.timelines.of_call(call_id, owner))
    finally:
        await store.aclose()

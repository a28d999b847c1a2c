"""`flowengine customers create|list`: the tenants of the configured store."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from flowengine.config import ConfigError, load_config
from flowengine.runtime import open_store
from flowengine.store import Customer, StoreError
from flowengine.store.views import view


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("customers", help="manage customers (tenants of the API)")
    parser.add_argument("--config", help="YAML config file (its store is used)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="create a customer")
    create.add_argument("name")
    create.add_argument("--webhook-uri", default="")
    create.add_argument("--webhook-secret", default="", help="HMAC key of X-VoIPBIN-Signature")
    actions.add_parser("list", help="list customers")
    parser.set_defaults(func=run)


async def _run(args: argparse.Namespace) -> int:
    store = await open_store(load_config(args.config, need_asterisk=False))
    try:
        if args.action == "create":
            customer = await store.customers.create(
                Customer(name=args.name, webhook_uri=args.webhook_uri, webhook_method="POST"),
                webhook_secret=args.webhook_secret or None)
            print(json.dumps(view(customer), indent=2))
        else:
            token: str | None = None
            while True:
                page = await store.customers.list_page(page_size=100, page_token=token)
                for customer in page.items:
                    print(json.dumps(view(customer)))
                token = page.next_page_token
                if not token:
                    break
    finally:
        await store.aclose()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except (ConfigError, StoreError) as exc:
        print(f"flowengine customers: {exc}", file=sys.stderr)
        return 1

"""`flowengine customers create|list`: the tenants of the configured store."""
from __future__ import annotations

import argparse
import json
from typing import Any

from flowengine.cli.store_command import LIST_PAGE_SIZE, print_pages, run_on_store
from flowengine.store import Customer
from flowengine.store.store import Store
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


def run(args: argparse.Namespace) -> int:
    return run_on_store("customers", args.config, lambda store: _run(args, store))


async def _run(args: argparse.Namespace, store: Store) -> int:
    if args.action == "create":
        customer = await store.customers.create(
            Customer(name=args.name, webhook_uri=args.webhook_uri, webhook_method="POST"),
            webhook_secret=args.webhook_secret or None)
        print(json.dumps(view(customer), indent=2))
    else:
        await print_pages(lambda token: store.customers.list_page(page_size=LIST_PAGE_SIZE, page_token=token))
    return 0

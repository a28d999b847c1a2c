"""`flowengine keys create|list|revoke`: API access keys of customers, in the configured store."""
from __future__ import annotations

import argparse
import json
from typing import Any

from flowengine.cli.store_command import LIST_PAGE_SIZE, print_pages, run_on_store
from flowengine.store.store import Store
from flowengine.store.views import view


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("keys", help="manage API access keys (create prints the token once)")
    parser.add_argument("--config", help="YAML config file (its store is used)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="issue a key for a customer")
    create.add_argument("customer_id")
    create.add_argument("--name", default="")
    create.add_argument("--admin", action="store_true", help="the key also manages customers and keys")
    listing = actions.add_parser("list", help="a customer's keys (without tokens)")
    listing.add_argument("customer_id")
    revoke = actions.add_parser("revoke", help="delete a key: it stops working at once")
    revoke.add_argument("customer_id")
    revoke.add_argument("key_id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_on_store("keys", args.config, lambda store: _run(args, store))


async def _run(args: argparse.Namespace, store: Store) -> int:
    if args.action == "create":
        issued = await store.accesskeys.issue(args.customer_id, name=args.name, admin=args.admin)
        print(json.dumps({**view(issued.key), "token": issued.token.get_secret_value()}, indent=2))
    elif args.action == "list":
        await print_pages(lambda token: store.accesskeys.list_page(args.customer_id, page_size=LIST_PAGE_SIZE,
                                                                   page_token=token))
    else:
        print(json.dumps(view(await store.accesskeys.delete(args.customer_id, args.key_id))))
    return 0

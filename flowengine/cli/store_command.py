"""What the store-managing commands (`customers`, `keys`) share: the configured store opened and closed, paged
lists printed as JSON lines, configuration and store errors reported on one line."""
from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from flowengine.config import ConfigError, load_config
from flowengine.runtime import open_store
from flowengine.store import StoreError
from flowengine.store.pagination import Page
from flowengine.store.store import Store
from flowengine.store.views import view

LIST_PAGE_SIZE = 100


def run_on_store(command: str, config: str | None, body: Callable[[Store], Awaitable[int]]) -> int:
    """Run `body` on the store of `config` (no Asterisk settings needed); its exit code, or 1 after one line
    `flowengine COMMAND: problem` on stderr."""

    async def main() -> int:
        store = await open_store(load_config(config, need_asterisk=False))
        try:
            return await body(store)
        finally:
            await store.aclose()

    try:
        return asyncio.run(main())
    except (ConfigError, StoreError) as exc:
        print(f"flowengine {command}: {exc}", file=sys.stderr)
        return 1


async def print_pages(fetch: Callable[[str | None], Awaitable[Page[Any]]]) -> None:
    """Every record of a paged list (`fetch(page_token)`), one JSON line each as the API shows it."""
    token: str | None = None
    while True:
        page = await fetch(token)
        for record in page.items:
            print(json.dumps(view(record)))
        token = page.next_page_token
        if not token:
            return

"""`flowengine serve`: the ARI app (and later the REST API and flow watcher) until a signal."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any

from flowengine import heap
from flowengine.api.server import ApiStartError
from flowengine.asterisk.ami import AmiError
from flowengine.asterisk.ari.rest import AriAuthError, AriError
from flowengine.asterisk.instance import InstanceError
from flowengine.config import Config, ConfigError, load_config
from flowengine.logs import setup_logging
from flowengine.runtime import Engine
from flowengine.store.errors import StoreError

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the engine: ARI application answering calls",
        description="Run the engine against the Asterisk named in the config (or a private one). "
        "Environment variables FLOWENGINE_<SECTION>__<KEY> override the file.",
    )
    parser.add_argument("--config", help="YAML config file")
    parser.add_argument("--private-asterisk", metavar="DIR",
                        help="start a private Asterisk in DIR (overrides asterisk.private_dir)")
    parser.add_argument("--node-id", metavar="ID",
                        help="this engine node's id among those sharing the store (overrides node.id; "
                        "default: <host>:<ARI app>)")
    parser.set_defaults(func=run)


def startup_error(exc: BaseException, config: Config) -> str | None:
    """A one-line, actionable message for the failures an operator can fix; None otherwise."""
    cfg = config.asterisk
    if isinstance(exc, AriAuthError):
        return (f"ARI at {cfg.ari_url} refused user {cfg.ari_username!r}: check "
                "asterisk.ari_username and asterisk.ari_password")
    if isinstance(exc, AriError):
        return f"cannot use ARI at {cfg.ari_url}: {exc}"
    if isinstance(exc, AmiError):
        return f"AMI at {cfg.ami_host}:{cfg.ami_port}: {exc}"
    if isinstance(exc, InstanceError):
        return f"private Asterisk: {exc}"
    if isinstance(exc, StoreError):
        return str(exc)  # names store.url (passwords masked)
    if isinstance(exc, ApiStartError):
        return f"{exc} (check api.host and api.port)"
    return None


async def serve(config: Config) -> int:
    engine = Engine(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start()
    except (AriError, AmiError, InstanceError, StoreError, ApiStartError) as exc:
        print(f"flowengine serve: {startup_error(exc, config)}", file=sys.stderr)
        return 2
    heap.settle()  # nothing live yet: collect, then freeze what start-up made
    settling = asyncio.create_task(_settle_after_warm_up(engine), name="heap after warm-up")
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        settling.cancel()
        await asyncio.gather(settling, return_exceptions=True)
        await engine.aclose()
    return 0


async def _settle_after_warm_up(engine: Engine) -> None:
    """The speech models load in the background, maybe while calls run: freeze them without a
    collection (which would stall the calls' media)."""
    if await engine.speech_warmed():
        heap.settle(collect=False, reason="speech warm-up")


def run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    if args.private_asterisk:
        environ["FLOWENGINE_ASTERISK__PRIVATE_DIR"] = args.private_asterisk
    if args.node_id:
        environ["FLOWENGINE_NODE__ID"] = args.node_id
    try:
        config = load_config(args.config, environ)
    except ConfigError as exc:
        print(f"flowengine serve: invalid configuration {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log.level, config.log.format)
    return asyncio.run(serve(config))

"""`flowengine campaign run FILE.yaml` (live progress, graceful Ctrl-C, resume) and `campaign report ID`."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from flowengine.api.server import ApiStartError
from flowengine.asterisk.ami import AmiError
from flowengine.asterisk.ari.rest import AriError
from flowengine.asterisk.instance import InstanceError
from flowengine.campaign.importer import import_plan
from flowengine.campaign.plan import PlanError, TargetsError, campaign_id_for, load_plan
from flowengine.campaign.progress import Snapshot, eta_seconds, render, snapshot
from flowengine.campaign.report import table, write_chart, write_csv
from flowengine.campaign.resources import CampaignConfigError
from flowengine.cli.serve import startup_error
from flowengine.config import Config, ConfigError, load_config
from flowengine.flow.persistence import ENGINE_CUSTOMER_ID
from flowengine.logs import setup_logging
from flowengine.runtime import Engine, open_store
from flowengine.store.errors import NotFoundError, StoreError

log = logging.getLogger(__name__)
REFRESH_S = 0.5


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("campaign", help="run outbound campaigns and report on them")
    commands = parser.add_subparsers(dest="campaign_command", metavar="SUBCOMMAND")
    commands.required = True
    run_p = commands.add_parser("run", help="dial a campaign file's targets through its flow",
                                description="Ctrl-C stops gracefully (calls up finish their flow); run the "
                                "same file again to resume. A second Ctrl-C hangs up at once.")
    run_p.add_argument("file", type=Path, help="campaign YAML (targets from a CSV or YAML list)")
    run_p.add_argument("--config", help="engine YAML config file")
    run_p.set_defaults(func=run)
    report_p = commands.add_parser("report", help="outcome table, CSV and PNG chart of a campaign")
    report_p.add_argument("campaign_id")
    report_p.add_argument("--config", help="engine YAML config file")
    report_p.add_argument("--out", type=Path, default=Path("."), help="folder for the CSV and PNG (default .)")
    report_p.set_defaults(func=report)


def _config(args: argparse.Namespace, command: str, *, need_asterisk: bool = True) -> Config | None:
    try:
        return load_config(args.config, need_asterisk=need_asterisk)
    except ConfigError as exc:
        print(f"flowengine campaign {command}: invalid configuration {exc}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    try:
        plan, rows = load_plan(args.file)
    except (PlanError, TargetsError) as exc:
        print(f"flowengine campaign run: {exc}", file=sys.stderr)
        return 2
    config = _config(args, "run")
    if config is None:
        return 2
    setup_logging(config.log.level, config.log.format)
    campaign_id = campaign_id_for(args.file, plan)
    return asyncio.run(_run(config, plan, rows, campaign_id))


class Progress:
    """Redraws one line on a terminal; prints a line every few seconds otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last = 0.0
        self.start: Snapshot | None = None
        self.t0 = time.monotonic()

    def show(self, s: Snapshot, final: bool = False) -> None:
        if self.start is None:
            self.start = s
        now = time.monotonic()
        line = render(s, eta_seconds(self.start, s, now - self.t0))
        if self.tty:
            self.out.write("\r" + line + ("\n" if final else ""))
        elif final or now - self.last >= 2.0:
            self.out.write(line + "\n")
            self.last = now
        self.out.flush()


async def _run(config: Config, plan: Any, rows: Any, campaign_id: str) -> int:
    engine = Engine(config)
    try:
        await engine.start()
    except (AriError, AmiError, InstanceError, StoreError, ApiStartError) as exc:
        print(f"flowengine campaign run: {startup_error(exc, config)}", file=sys.stderr)
        return 2
    assert engine.store is not None and engine.campaigns is not None
    service = engine.campaigns  # started with the engine: it has already resumed campaigns left running
    interrupts = 0
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[Any]] = set()

    def on_interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            print("\nstopping: no new calls; calls up finish their flow (Ctrl-C again to hang up now)",
                  file=sys.stderr)
            stopping.add(loop.create_task(service.set_status(ENGINE_CUSTOMER_ID, campaign_id, "stop")))
        else:
            for task in list(service.tasks.values()):
                task.cancel()

    try:
        campaign, created = await import_plan(service.resources, plan, rows, campaign_id, ENGINE_CUSTOMER_ID)
        print(f"campaign {campaign.id} ({'new' if created else 'resumed'})", file=sys.stderr)
        if campaign.status == "stop":
            await service.set_status(ENGINE_CUSTOMER_ID, campaign.id, "run")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_interrupt)
        outplan = await engine.store.outplans.get(ENGINE_CUSTOMER_ID, campaign.outplan_id)
        bar = Progress(sys.stderr)
        while campaign.id in service.tasks:
            bar.show(await snapshot(engine.store, campaign, outplan))
            try:
                await asyncio.wait_for(asyncio.shield(service.tasks[campaign.id]), REFRESH_S)
            except (TimeoutError, KeyError):
                pass
            except asyncio.CancelledError:
                break
        bar.show(await snapshot(engine.store, campaign, outplan), final=True)
    except CampaignConfigError as exc:
        print(f"flowengine campaign run: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if stopping:
            await asyncio.gather(*stopping, return_exceptions=True)
        await engine.aclose()
    print(f"campaign {campaign_id}: {'stopped' if interrupts else 'finished'}; "
          f"report: flowengine campaign report {campaign_id}", file=sys.stderr)
    return 130 if interrupts else 0


def report(args: argparse.Namespace) -> int:
    config = _config(args, "report", need_asterisk=False)  # it reads the store only
    if config is None:
        return 2
    return asyncio.run(_report(config, args.campaign_id, args.out))


async def _report(config: Config, campaign_id: str, out: Path) -> int:
    try:
        store = await open_store(config)
    except StoreError as exc:
        print(f"flowengine campaign report: {exc}", file=sys.stderr)  # names store.url (passwords masked)
        return 2
    try:
        try:
            campaign = await store.campaigns.get(ENGINE_CUSTOMER_ID, campaign_id)
        except NotFoundError:
            print(f"flowengine campaign report: no campaign {campaign_id!r} in {config.store.url}", file=sys.stderr)
            return 1
        calls = await store.campaigncalls.of_campaign(ENGINE_CUSTOMER_ID, campaign_id)
    finally:
        await store.aclose()
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    csv_path, png_path = out / f"campaign-{campaign_id}.csv", out / f"campaign-{campaign_id}.png"
    await asyncio.to_thread(write_csv, calls, csv_path)
    await asyncio.to_thread(write_chart, calls, png_path, f"campaign {campaign.name}: outcomes over time")
    print(f"campaign {campaign.name} ({campaign.id}), status {campaign.status}")
    print(table(calls))
    print(f"wrote {csv_path} and {png_path}")
    return 0

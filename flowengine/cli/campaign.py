"""`flowengine campaign run FILE.yaml` (live progress, graceful Ctrl-C, resume) and `campaign report ID`."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from flowengine.api.server import ApiStartError
from flowengine.asterisk.ami import AmiError
from flowengine.asterisk.ari.rest import AriError
from flowengine.asterisk.instance import InstanceError
from flowengine.campaign.html_report import render_html
from flowengine.campaign.importer import import_plan
from flowengine.campaign.plan import PlanError, TargetsError, campaign_id_for, load_plan
from flowengine.campaign.progress import snapshot
from flowengine.campaign.report import per_target, table, write_chart, write_csv
from flowengine.campaign.resources import CampaignConfigError
from flowengine.cli.campaign_display import Display
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
    report_p = commands.add_parser("report", help="outcome tables, CSV, PNG chart and HTML report of a campaign")
    report_p.add_argument("campaign_id")
    report_p.add_argument("--config", help="engine YAML config file")
    report_p.add_argument("--out", type=Path, default=Path("."), help="folder for the CSV, PNG and HTML (default .)")
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
    display = Display(sys.stderr, f"campaign {plan.name}")
    # JSON logs are for machines: they stay plain lines, never drawn through the live display
    setup_logging(config.log.level, config.log.format,
                  handler=display.log_handler() if config.log.format != "json" else None)
    campaign_id = campaign_id_for(args.file, plan)
    return asyncio.run(_run(config, plan, rows, campaign_id, display))


async def _run(config: Config, plan: Any, rows: Any, campaign_id: str, display: Display) -> int:
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
            display.say("stopping: no new calls; calls up finish their flow (Ctrl-C again to hang up now)")
            stopping.add(loop.create_task(service.set_status(ENGINE_CUSTOMER_ID, campaign_id, "stop")))
        else:
            for task in list(service.tasks.values()):
                task.cancel()

    try:
        campaign, created = await import_plan(service.resources, plan, rows, campaign_id, ENGINE_CUSTOMER_ID)
        display.say(f"campaign {campaign.id} ({'new' if created else 'resumed'})")
        if campaign.status == "stop":
            await service.set_status(ENGINE_CUSTOMER_ID, campaign.id, "run")
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_interrupt)
        outplan = await engine.store.outplans.get(ENGINE_CUSTOMER_ID, campaign.outplan_id)
        with display:
            while campaign.id in service.tasks:
                display.show(await snapshot(engine.store, campaign, outplan))
                try:
                    await asyncio.wait_for(asyncio.shield(service.tasks[campaign.id]), REFRESH_S)
                except (TimeoutError, KeyError):
                    pass
                except asyncio.CancelledError:
                    break
            display.show(await snapshot(engine.store, campaign, outplan), final=True)
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
        targets = await store.outdialtargets.all_of(ENGINE_CUSTOMER_ID, campaign.outdial_id)
    finally:
        await store.aclose()
    rows = per_target(targets, calls)
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    base = out / f"campaign-{campaign_id}"
    csv_path, png_path, html_path = base.with_suffix(".csv"), base.with_suffix(".png"), base.with_suffix(".html")
    title = f"campaign {campaign.name}"
    await asyncio.to_thread(write_csv, calls, csv_path)
    await asyncio.to_thread(write_chart, calls, rows, png_path, title)
    png = await asyncio.to_thread(png_path.read_bytes)
    await asyncio.to_thread(html_path.write_text, render_html(title, campaign.status, calls, rows, png), "utf-8")
    print(f"campaign {campaign.name} ({campaign.id}), status {campaign.status}")
    print(table(calls, rows))
    print(f"wrote {csv_path}, {png_path} and {html_path}")
    return 0

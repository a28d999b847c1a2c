"""`flowengine asterisk start|stop|status`: the private Asterisk, with the SIP accounts a softphone calls it with."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flowengine.asterisk.instance import InstanceError, InstanceInfo, PrivateAsterisk
from flowengine.asterisk.sip_accounts import SipAccountError, SipAccounts, SipBind, dial_help, parse_bind

DEFAULT_DIR = "run/asterisk"


def add_sip_arguments(parser: argparse.ArgumentParser) -> None:
    """The SIP flags `asterisk start` and `demo` share."""
    group = parser.add_argument_group("SIP (call it from a softphone)")
    group.add_argument("--sip-account", action="append", default=[], metavar="NAME:PASSWORD",
                       help="a digest account a softphone registers and calls with (repeatable)")
    group.add_argument("--sip-trust", action="append", default=[], metavar="NAME=ADDR[/MASK]",
                       help="a peer identified by its address, no password asked (repeatable)")
    group.add_argument("--sip-bind", metavar="HOST[:PORT]",
                       help="where SIP listens, e.g. 0.0.0.0:5060 (default: loopback, a free port; kept "
                       "across restarts)")


def sip_options(args: argparse.Namespace) -> tuple[SipAccounts | None, SipBind | None]:
    """Accounts given (None: keep the stored ones) and the bind asked for; SipAccountError if unusable."""
    clear = getattr(args, "sip_clear", False)
    accounts = SipAccounts.parse(args.sip_account, args.sip_trust) if args.sip_account or args.sip_trust or clear \
        else None
    bind = parse_bind(args.sip_bind) if args.sip_bind else None
    return accounts, bind


def print_dial_help(info: InstanceInfo, accounts: SipAccounts) -> None:
    host, port = str(info.sip_info(accounts)["server"]).rsplit(":", 1)
    print(dial_help(host, int(port), accounts), file=sys.stderr, flush=True)
    for warning in accounts.warnings(info.sip_bind_host):
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "asterisk",
        help="start, stop or inspect a private Asterisk on loopback",
        description="Manage a private Asterisk (free loopback ports, configs rendered from asterisk-conf/). "
        "SIP accounts given to `start` are stored in the instance folder: a later `start` without them keeps "
        "them, `start` with accounts replaces them, `--sip-clear` removes them.",
    )
    parser.add_argument("action", choices=("start", "stop", "status"), help="what to do")
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"instance folder (default: {DEFAULT_DIR})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ARI on start")
    add_sip_arguments(parser)
    parser.add_argument("--sip-clear", action="store_true", help="start with no SIP account (forget the stored ones)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        accounts, bind = sip_options(args)
    except SipAccountError as exc:
        print(f"flowengine asterisk {args.action}: {exc}", file=sys.stderr)
        return 2
    instance = PrivateAsterisk(args.dir, sip_accounts=accounts, sip_bind=bind)
    try:
        if args.action == "start":
            info = instance.start(args.timeout)
            stored = instance.stored_sip_accounts()
            print(json.dumps({"running": True, **info.to_dict(), "sip": info.sip_info(stored)}, indent=2))
            print_dial_help(info, stored)
            return 0
        if args.action == "stop":
            stopped = instance.stop()
            print(json.dumps({"running": False, "stopped": stopped, "directory": str(instance.directory)}))
            return 0
        info_or_none = instance.load_info()
        running = instance.running()
        report: dict[str, object] = {"running": running, "directory": str(instance.directory)}
        if info_or_none is not None:
            report.update(info_or_none.to_dict())
            report["sip"] = info_or_none.sip_info(instance.stored_sip_accounts())
        print(json.dumps(report, indent=2))
        return 0 if running else 3
    except InstanceError as exc:
        print(f"flowengine asterisk {args.action}: {exc}", file=sys.stderr)
        return 1

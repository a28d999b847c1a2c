"""`flowengine asterisk start|stop|status`: the private Asterisk, with the SIP accounts a softphone calls it with;
`flowengine asterisk render-conf`: the snippets that attach the engine to an existing Asterisk."""
from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flowengine.asterisk.instance import FLOW_CONTEXT, INBOUND_CONTEXT, InstanceError, InstanceInfo, PrivateAsterisk
from flowengine.asterisk.sip_accounts import (
    RTP_END,
    RTP_START,
    SipAccountError,
    SipAccounts,
    SipBind,
    dial_help,
    parse_bind,
)
from flowengine.asterisk.templates import TemplateError, render_snippets
from flowengine.cli.daemon_report import print_status, print_stopped

DEFAULT_DIR = "run/asterisk"
ENV_FILE = "flowengine.env"  # the engine's side of the credentials (a systemd EnvironmentFile)


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
    parser.add_argument("action", choices=("start", "stop", "status", "render-conf"), help="what to do")
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"instance folder (default: {DEFAULT_DIR})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ARI on start")
    add_sip_arguments(parser)
    parser.add_argument("--sip-clear", action="store_true", help="start with no SIP account (forget the stored ones)")
    conf = parser.add_argument_group("render-conf (snippets for an existing Asterisk; see docs/deploy.md)")
    conf.add_argument("--out", metavar="DIR", help="folder to write the snippets to, e.g. /etc/asterisk/flowengine")
    conf.add_argument("--config", help="the engine's YAML config (asterisk.ari_url, ari_username, ari_password, app)")
    conf.add_argument("--ari-password-file", metavar="FILE",
                      help="read the ARI password from FILE (default: the config's, else a new random one)")
    conf.add_argument("--http-bind", help="address Asterisk's HTTP server listens on (default: ari_url's host)")
    conf.add_argument("--http-port", type=int, help="port of Asterisk's HTTP server (default: ari_url's port)")
    conf.add_argument("--rtp-start", type=int, default=RTP_START, help=f"first RTP port (default {RTP_START})")
    conf.add_argument("--rtp-end", type=int, default=RTP_END, help=f"last RTP port (default {RTP_END})")
    parser.set_defaults(func=run)


def render_conf(args: argparse.Namespace) -> int:
    """Write the snippets and the engine's env file; stdout names the files, never the password."""
    # here, not at the top: the config pulls in every provider (seconds), which start/stop/status do not need
    from flowengine.config import ConfigError, load_config

    fail = "flowengine asterisk render-conf"
    if not args.out:
        print(f"{fail}: --out DIR is required", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, need_asterisk=False)
        password = config.asterisk.ari_password.get_secret_value()
        source = "config"
        if args.ari_password_file:
            password, source = Path(args.ari_password_file).read_text().strip(), "file"
        if not password:
            password, source = secrets.token_urlsafe(24), "generated"
        cfg = config.asterisk
        url = urlsplit(cfg.ari_url)
        bind = args.http_bind or url.hostname or "127.0.0.1"
        port = args.http_port or url.port or 8088
        host = url.hostname if bind in ("0.0.0.0", "::") else bind
        ari_url = f"{url.scheme}://{host}:{port}"
        values = {
            "ari_username": cfg.ari_username, "ari_password": password, "http_bind": bind, "ari_port": port,
            "rtp_start": args.rtp_start, "rtp_end": args.rtp_end, "app_name": cfg.app,
            "inbound_context": INBOUND_CONTEXT, "flow_context": FLOW_CONTEXT,
            "media_ports": f"{config.media.port_min}-{config.media.port_max}",
        }
        out = Path(args.out)
        written = render_snippets(values, out)
        env = out / ENV_FILE
        env.touch(mode=0o600)
        env.chmod(0o600)
        env.write_text(f"FLOWENGINE_ASTERISK__ARI_URL={ari_url}\nFLOWENGINE_ASTERISK__ARI_USERNAME={cfg.ari_username}\n"
                       f"FLOWENGINE_ASTERISK__ARI_PASSWORD={password}\nFLOWENGINE_ASTERISK__APP={cfg.app}\n")
    except (ConfigError, TemplateError, OSError) as exc:
        print(f"{fail}: {exc}", file=sys.stderr)
        return 2
    folder = out.resolve()
    print(json.dumps({
        "out": str(folder), "files": [str(p) for p in [*written, env]],
        "ari_url": ari_url, "ari_username": cfg.ari_username, "app": cfg.app,
        "ari_password": f"({source}; in ari.conf and {ENV_FILE} only)",
        "include": {name: f'#include "{folder / name}"' for name in ("ari.conf", "http.conf", "extensions.conf",
                                                                   "rtp.conf")},
        "then": "asterisk -rx 'core reload'; run the engine with EnvironmentFile=" + str(folder / ENV_FILE),
    }, indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "render-conf":
        return render_conf(args)
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
            return print_stopped(instance.stop(), instance.directory)
        last = instance.load_info()
        running = instance.running()
        details = {} if last is None else {**last.to_dict(), "sip": last.sip_info(instance.stored_sip_accounts())}
        return print_status(running, instance.directory, details)
    except InstanceError as exc:
        print(f"flowengine asterisk {args.action}: {exc}", file=sys.stderr)
        return 1

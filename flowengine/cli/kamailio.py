"""`flowengine kamailio start|stop|status`: a private Kamailio dispatching calls over several Asterisk servers."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flowengine.asterisk.kamailio import ALGORITHMS, Destination, KamailioError, PrivateKamailio, Probing
from flowengine.asterisk.sip_accounts import SipAccountError, parse_bind
from flowengine.cli.daemon_report import print_status, print_stopped

DEFAULT_DIR = "run/kamailio"
SERVICE_RPC_SOCKET = "/tmp/flowengine-kamailio-rpc.sock"  # writable in a container too; mode 0600
SERVICE_PORT = 5060


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "kamailio",
        help="start, stop or inspect a private Kamailio in front of several Asterisk servers",
        description="Run Kamailio (Debian's package) with asterisk-conf/kamailio/kamailio.cfg: inbound calls are "
        "dispatched over the Asterisk servers given with --asterisk, which are probed with OPTIONS; a dead one "
        "gets no calls until it answers again. Each Asterisk must trust Kamailio's address "
        "(`flowengine asterisk start --sip-trust kamailio=ADDRESS`).",
    )
    parser.add_argument("action", choices=("start", "stop", "status", "render"),
                        help="what to do; render: only write kamailio.cfg and dispatcher.list into --dir, for "
                        f"Debian's service or a container (`kamailio -DD -E -f DIR/kamailio.cfg`; port {SERVICE_PORT} "
                        "unless --listen gives one)")
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"instance folder (default: {DEFAULT_DIR})")
    parser.add_argument("--asterisk", action="append", default=[], metavar="[NAME=]HOST:PORT",
                        help="an Asterisk's SIP address (repeatable; default: the ones of the previous start)")
    parser.add_argument("--listen", default="127.0.0.1", metavar="HOST[:PORT]",
                        help="where Kamailio takes calls (default: 127.0.0.1, a free port; kept across restarts)")
    parser.add_argument("--algorithm", choices=tuple(ALGORITHMS), default="round-robin",
                        help="how calls are spread (default: round-robin)")
    parser.add_argument("--ping-interval", type=int, default=Probing.ping_interval, metavar="SECONDS",
                        help=f"OPTIONS probe interval (default: {Probing.ping_interval}; 0: no probing, and a server "
                        "a call found dead stays out until Kamailio restarts)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for Kamailio on start")
    parser.set_defaults(func=run)


def build(args: argparse.Namespace) -> PrivateKamailio:
    bind = parse_bind(args.listen)
    destinations = [Destination.parse(text) for text in args.asterisk]
    kamailio = PrivateKamailio(args.dir, destinations, host=bind.host, port=bind.port, algorithm=args.algorithm,
                               probing=Probing(ping_interval=args.ping_interval))
    previous = kamailio.load_info()
    if not destinations and previous is not None:
        kamailio.destinations = [Destination(**d) for d in previous.destinations]
    return kamailio


def run(args: argparse.Namespace) -> int:
    try:
        kamailio = build(args)
        if args.action == "render":
            port = kamailio.port or SERVICE_PORT
            files = kamailio.render(port, rpc_socket=Path(SERVICE_RPC_SOCKET))
            print(json.dumps({"files": [str(f) for f in files], "listen": f"{kamailio.host}:{port}",
                              "destinations": [d.uri for d in kamailio.destinations],
                              "trust": f"kamailio={kamailio.host}"}, indent=2))
            return 0
        if args.action == "start":
            info = kamailio.start(args.timeout)
            print(json.dumps({"running": True, **info.to_dict()}, indent=2))
            print(f"Calls to sip:EXTENSION@{info.host}:{info.port} are dispatched over "
                  f"{', '.join(d.uri for d in kamailio.destinations)}; each Asterisk must trust "
                  f"{info.host} (`flowengine asterisk start --sip-trust kamailio={info.host}`)",
                  file=sys.stderr, flush=True)
            return 0
        if args.action == "stop":
            return print_stopped(kamailio.stop(), kamailio.directory)
        running = kamailio.running()
        stored = kamailio.load_info()
        details: dict[str, object] = stored.to_dict() if stored is not None else {}
        if running:
            details["states"] = [{"uri": s.uri, "flags": s.flags, "active": s.active} for s in kamailio.states()]
        return print_status(running, kamailio.directory, details)
    except (KamailioError, SipAccountError) as exc:
        print(f"flowengine kamailio {args.action}: {exc}", file=sys.stderr)
        return 1

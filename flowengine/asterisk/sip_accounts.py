"""SIP accounts a softphone or a trusted peer uses to reach the private Asterisk: parsing, validation, rendering."""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNTS_CONF = "pjsip_accounts.conf"  # `#tryinclude`-d by asterisk-conf/pjsip.conf
ACCOUNTS_STATE = "sip_accounts.json"  # in the instance folder: what `asterisk start` without flags keeps
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
RESERVED_NAMES = frozenset({"transport-udp", "flowengine-endpoint", "flowengine-aor", "global", "system"})
RTP_START, RTP_END = 20000, 39999  # asterisk-conf/rtp.conf's range; the SIP port stays outside it
MIN_EXPOSED_PASSWORD = 12  # below this, a warning when SIP listens beyond loopback
CODECS = ("ulaw", "alaw")  # the flowengine-endpoint template's, as a softphone must offer them


class SipAccountError(ValueError):
    """A SIP account, trusted peer or bind address the user gave cannot be used."""


@dataclass(frozen=True)
class SipAccount:
    """A digest account: a softphone registers and calls with this user name and password."""

    name: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.password:
            raise SipAccountError(f"SIP account {self.name!r}: the password is empty")
        if any(c == ";" or not c.isprintable() or c.isspace() for c in self.password):
            raise SipAccountError(f"SIP account {self.name!r}: the password may not contain spaces, control "
                                  "characters or ';' (it starts a comment in Asterisk's configs)")


@dataclass(frozen=True)
class TrustedPeer:
    """A peer identified by its address (a PBX, a gateway, a desk phone on the LAN): no password asked."""

    name: str
    address: str  # an IP address or network, e.g. 192.0.2.10 or 10.1.0.0/16

    def __post_init__(self) -> None:
        check_name(self.name)
        try:
            network = ipaddress.ip_network(self.address, strict=False)
        except ValueError:
            raise SipAccountError(f"trusted SIP peer {self.name!r}: {self.address!r} is not an IP address or "
                                  "network (e.g. 192.0.2.10 or 10.1.0.0/16)") from None
        object.__setattr__(self, "address", str(network))


@dataclass(frozen=True)
class SipBind:
    """Where the SIP transport listens; `port` None: a free one, kept across restarts."""

    host: str = "127.0.0.1"
    port: int | None = None

    def __post_init__(self) -> None:
        try:
            ipaddress.IPv4Address(self.host)
        except ValueError:
            raise SipAccountError(f"SIP bind address {self.host!r} is not an IPv4 address "
                                  "(e.g. 0.0.0.0 for every interface, or 192.168.1.20)") from None
        if self.port is not None:
            check_sip_port(self.port)


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise SipAccountError(f"SIP name {name!r} is not usable: 1-64 letters, digits, '_', '.', '+' or '-', "
                              "starting with a letter or digit")
    if name.lower() in RESERVED_NAMES:
        raise SipAccountError(f"SIP name {name!r} is reserved by flowengine's own configuration")


def check_sip_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise SipAccountError(f"SIP port {port} is not a port number (1-65535)")
    if RTP_START <= port <= RTP_END:
        raise SipAccountError(f"SIP port {port} is inside the RTP port range {RTP_START}-{RTP_END} "
                              "(asterisk-conf/rtp.conf): pick one outside it, e.g. 5060")


def parse_account(text: str) -> SipAccount:
    """`NAME:PASSWORD` (the password may itself hold ':')."""
    name, sep, password = text.partition(":")
    if not sep:
        raise SipAccountError(f"SIP account {text.split(':')[0]!r} has no password: write NAME:PASSWORD")
    return SipAccount(name, password)


def parse_trusted(text: str) -> TrustedPeer:
    """`NAME=ADDRESS[/MASK]`."""
    name, sep, address = text.partition("=")
    if not sep:
        raise SipAccountError(f"trusted SIP peer {text!r}: write NAME=ADDRESS (e.g. office=192.0.2.0/24)")
    return TrustedPeer(name, address)


def parse_bind(text: str) -> SipBind:
    """`HOST[:PORT]`."""
    host, sep, port = text.partition(":")
    if not sep:
        return SipBind(host)
    if not port.isdigit():
        raise SipAccountError(f"SIP bind {text!r}: the port {port!r} is not a number")
    return SipBind(host, int(port))


@dataclass(frozen=True)
class SipAccounts:
    """Every account and trusted peer of one instance; names are unique across both."""

    accounts: tuple[SipAccount, ...] = ()
    trusted: tuple[TrustedPeer, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for name in [a.name for a in self.accounts] + [t.name for t in self.trusted]:
            if name.lower() in seen:
                raise SipAccountError(f"SIP name {name!r} is given twice")
            seen.add(name.lower())

    @classmethod
    def parse(cls, accounts: Iterable[str] = (), trusted: Iterable[str] = ()) -> SipAccounts:
        return cls(tuple(parse_account(a) for a in accounts), tuple(parse_trusted(t) for t in trusted))

    def __bool__(self) -> bool:
        return bool(self.accounts or self.trusted)

    def render(self, context: str) -> str:
        """The PJSIP include: endpoint+auth+aor per account, endpoint+identify per trusted peer. Codecs,
        NAT handling (rtp_symmetric, force_rport, rewrite_contact) and direct_media=no come from the
        `flowengine-endpoint` template of pjsip.conf; `context` is where inbound calls are routed."""
        out = ["; flowengine: SIP accounts, written at every start (holds passwords: mode 0600)", ""]
        for a in self.accounts:
            out += [f"[{a.name}](flowengine-endpoint)", f"context = {context}",
                    f"auth = {a.name}", f"aors = {a.name}", "",
                    f"[{a.name}]", "type = auth", "auth_type = userpass", f"username = {a.name}",
                    f"password = {a.password}", "",
                    f"[{a.name}](flowengine-aor)", "remove_existing = yes", ""]
        for t in self.trusted:
            # identify_by = ip: without it, anyone sending From: <name> would be let in with no password
            out += [f"[{t.name}](flowengine-endpoint)", f"context = {context}", "identify_by = ip", "",
                    f"[{t.name}]", "type = identify", f"endpoint = {t.name}", f"match = {t.address}", ""]
        return "\n".join(out)

    def write(self, path: Path, context: str) -> None:
        """Write the rendered include with mode 0600 from the first byte (never readable by others)."""
        write_private(path, self.render(context))

    def warnings(self, bind_host: str) -> list[str]:
        """Risks worth a line on stderr: short passwords on a SIP port other machines can reach."""
        if ipaddress.IPv4Address(bind_host).is_loopback:
            return []
        return [f"SIP account {a.name!r}: a password under {MIN_EXPOSED_PASSWORD} characters on {bind_host} is "
                "soon guessed by SIP scanners; use a longer one" for a in self.accounts
                if len(a.password) < MIN_EXPOSED_PASSWORD]

    def public(self) -> dict[str, object]:
        """What may be printed: names and addresses, never a password."""
        return {"accounts": [a.name for a in self.accounts],
                "trusted": [{"name": t.name, "address": t.address} for t in self.trusted]}

    def to_json(self) -> str:
        return json.dumps({"accounts": [{"name": a.name, "password": a.password} for a in self.accounts],
                           "trusted": [{"name": t.name, "address": t.address} for t in self.trusted]})

    @classmethod
    def from_json(cls, text: str) -> SipAccounts:
        data = json.loads(text)
        return cls(tuple(SipAccount(a["name"], a["password"]) for a in data.get("accounts", [])),
                   tuple(TrustedPeer(t["name"], t["address"]) for t in data.get("trusted", [])))

    def save(self, folder: Path) -> None:
        write_private(folder / ACCOUNTS_STATE, self.to_json())

    @classmethod
    def load(cls, folder: Path) -> SipAccounts:
        path = folder / ACCOUNTS_STATE
        return cls.from_json(path.read_text()) if path.exists() else cls()


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only (created 0600, then renamed into place)."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def reachable_host(bind_host: str) -> str:
    """The address a softphone dials: the bind address, or for 0.0.0.0 this machine's outward address."""
    if bind_host != "0.0.0.0":
        return bind_host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent, the kernel only picks a route
            host: str = s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return host


def dial_help(host: str, port: int, accounts: SipAccounts, extension: str = "1000") -> str:
    """How to reach the AI receptionist from a softphone, for people (never shows a password)."""
    server = f"{host}:{port}"
    lines = [f"Call the AI receptionist from a softphone: sip:{extension}@{server} (UDP, codec {' or '.join(CODECS)})"]
    lines += [f"  account {a.name}: user {a.name}, server/domain {server}, the password you gave; dial {extension}"
              for a in accounts.accounts]
    lines += [f"  from {t.address} ({t.name}): no account needed, send INVITE sip:{extension}@{server}"
              for t in accounts.trusted]
    if not accounts:
        lines.append("  no SIP account yet: add one with --sip-account NAME:PASSWORD or --sip-trust NAME=ADDRESS")
    return "\n".join(lines)

"""Private Asterisk instances on loopback: render configs, start, wait for ARI, status, stop."""
from __future__ import annotations

import base64
import contextlib
import json
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from flowengine.asterisk.process import DaemonProcess, load_state, pid_alive, save_state
from flowengine.asterisk.sip_accounts import (
    ACCOUNTS_CONF,
    RTP_END,
    RTP_START,
    SipAccounts,
    SipBind,
    reachable_host,
)
from flowengine.asterisk.templates import render_all

log = logging.getLogger(__name__)

STATE_FILE = "instance.json"
ASTERISK_BINARY = "asterisk"
INBOUND_CONTEXT = "flowengine-inbound"
FLOW_CONTEXT = "flowengine-flow"


class InstanceError(Exception):
    """The private Asterisk could not be started, reached or stopped."""


@dataclass(frozen=True)
class InstanceInfo:
    """Where a private Asterisk listens and how to log in; printed as JSON by the CLI."""

    directory: str
    pid: int
    host: str
    app: str
    ari_port: int
    ari_url: str
    ari_username: str
    ari_password: str
    ami_port: int
    ami_username: str
    ami_secret: str
    sip_port: int
    inbound_context: str
    flow_context: str
    version: str = ""
    sip_host: str = ""  # the SIP transport's bind address ("" in older state files: `host`)

    @property
    def sip_bind_host(self) -> str:
        return self.sip_host or self.host

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def sip_info(self, accounts: SipAccounts, extension: str = "1000") -> dict[str, object]:
        """How a softphone reaches the AI receptionist: printed by the CLI (names only, never a password)."""
        server = f"{reachable_host(self.sip_bind_host)}:{self.sip_port}"
        return {"bind": f"{self.sip_bind_host}:{self.sip_port}", "server": server, "transport": "udp",
                "uri": f"sip:{extension}@{server}", "codecs": ["ulaw", "alaw"], "context": self.inbound_context,
                **accounts.public()}


def free_port(host: str, kind: int = socket.SOCK_STREAM) -> int:
    """A port that is free on `host` right now (TCP or UDP), outside Asterisk's RTP range: the kernel's
    ephemeral ports overlap it, and a UDP port picked there can be taken by a call's RTP before whoever
    picked it binds it."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        if not RTP_START <= port <= RTP_END:
            return port
    raise InstanceError(f"no free port outside the RTP range {RTP_START}-{RTP_END} on {host}")


class PrivateAsterisk:
    """One Asterisk of our own in `directory`, bound to loopback on free ports.

    `extra_dialplan` is written to `extensions_local.conf` and `extra_pjsip` to
    `pjsip_peers.conf` (both `#tryinclude`-d by the production templates).

    `sip_accounts` replace the ones stored in the folder (None keeps them: a start without accounts
    keeps the previous ones); `sip_bind` moves the SIP transport off loopback (None keeps the previous).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        host: str = "127.0.0.1",
        app: str = "flowengine",
        extra_dialplan: str = "",
        extra_pjsip: str = "",
        binary: str = ASTERISK_BINARY,
        sip_accounts: SipAccounts | None = None,
        sip_bind: SipBind | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.host = host
        self.app = app
        self.extra_dialplan = extra_dialplan
        self.extra_pjsip = extra_pjsip
        self.binary = binary
        self.sip_accounts = sip_accounts
        self.sip_bind = sip_bind
        self._daemon = DaemonProcess("asterisk", self.log_file, InstanceError)

    @property
    def etc_dir(self) -> Path:
        return self.directory / "etc"

    @property
    def conf_file(self) -> Path:
        return self.etc_dir / "asterisk.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "asterisk.out"

    # -- state -----------------------------------------------------------------------------
    def load_info(self) -> InstanceInfo | None:
        data = load_state(self.directory / STATE_FILE)
        return InstanceInfo(**data) if data is not None else None

    def _save_info(self, info: InstanceInfo) -> None:
        save_state(self.directory / STATE_FILE, info.to_dict())

    def running(self) -> bool:
        info = self.load_info()
        return info is not None and pid_alive(info.pid)

    # -- start -----------------------------------------------------------------------------
    def _new_info(self, previous: InstanceInfo | None) -> InstanceInfo:
        """Ports and credentials: reused from the previous run so clients can reconnect."""
        if previous is not None:
            return previous
        return InstanceInfo(
            directory=str(self.directory),
            pid=0,
            host=self.host,
            app=self.app,
            ari_port=free_port(self.host),
            ari_url=f"http://{self.host}:0",
            ari_username="flowengine",
            ari_password=secrets.token_urlsafe(18),
            ami_port=free_port(self.host),
            ami_username="flowengine",
            ami_secret=secrets.token_urlsafe(18),
            sip_port=free_port(self.sip_bind.host if self.sip_bind else self.host, socket.SOCK_DGRAM),
            inbound_context=INBOUND_CONTEXT,
            flow_context=FLOW_CONTEXT,
        )

    def _render(self, info: InstanceInfo) -> None:
        state = self.directory
        for sub in ("db", "keys", "spool", "spool/recording", "run", "log", "cache", "varlib"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        varlib = state / "varlib"
        for name in ("sounds", "moh"):
            link = varlib / name
            if not link.exists():
                link.symlink_to(Path("/var/lib/asterisk") / name)
        values = {
            "etc_dir": self.etc_dir,
            "module_dir": "/usr/lib/asterisk/modules",
            "varlib_dir": varlib,
            "data_dir": "/usr/share/asterisk",
            "state_dir": state,
            "system_name": f"flowengine-{info.ari_port}",
            "http_bind": info.host,
            "ari_port": info.ari_port,
            "ari_allowed_origins": f"http://{info.host}:{info.ari_port}",
            "ari_username": info.ari_username,
            "ari_password": info.ari_password,
            "ami_bind": info.host,
            "ami_port": info.ami_port,
            "ami_username": info.ami_username,
            "ami_secret": info.ami_secret,
            "ami_permit": f"{info.host}/255.255.255.255",
            "rtp_start": RTP_START,
            "rtp_end": RTP_END,
            "sip_bind": info.sip_bind_host,
            "sip_port": info.sip_port,
            "inbound_context": info.inbound_context,
            "flow_context": info.flow_context,
            "app_name": info.app,
            "moh_dir": "/usr/share/asterisk/moh",
            "console_log_levels": "notice,warning,error",
            "tone_country": "us",
        }
        if self.etc_dir.exists():
            shutil.rmtree(self.etc_dir)
        render_all(values, self.etc_dir)
        (self.etc_dir / "extensions_local.conf").write_text(self.extra_dialplan)
        (self.etc_dir / "pjsip_peers.conf").write_text(self.extra_pjsip)
        self.stored_sip_accounts().write(self.etc_dir / ACCOUNTS_CONF, info.inbound_context)

    # -- SIP accounts ----------------------------------------------------------------------
    def stored_sip_accounts(self) -> SipAccounts:
        return SipAccounts.load(self.directory)

    def set_sip_accounts(self, accounts: SipAccounts) -> None:
        """Store `accounts` (replacing the previous ones) and, if running, load them into Asterisk now."""
        self.directory.mkdir(parents=True, exist_ok=True)
        accounts.save(self.directory)
        info = self.load_info()
        if info is None or not pid_alive(info.pid):
            return
        accounts.write(self.etc_dir / ACCOUNTS_CONF, info.inbound_context)
        self.cli("module reload res_pjsip.so")
        log.info("SIP accounts reloaded: %s", accounts.public())

    def _with_bind(self, info: InstanceInfo) -> InstanceInfo:
        """`info` with the SIP transport where `sip_bind` asks, checked free before Asterisk binds it."""
        bind = self.sip_bind
        host = bind.host if bind is not None else info.sip_bind_host
        port = bind.port if bind is not None and bind.port is not None else info.sip_port
        if RTP_START <= port <= RTP_END:  # a state file from before ports were kept out of the range
            port = free_port(host, socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError as exc:
                raise InstanceError(f"cannot listen for SIP on {host}:{port}: {exc.strerror} "
                                    "(choose another with --sip-bind HOST:PORT)") from None
        return replace(info, sip_host=host, sip_port=port)

    def _check_running_bind(self, info: InstanceInfo) -> None:
        bind = self.sip_bind
        if bind is None:
            return
        if bind.host != info.sip_bind_host or (bind.port is not None and bind.port != info.sip_port):
            raise InstanceError(f"this Asterisk is running with SIP on {info.sip_bind_host}:{info.sip_port}; "
                                f"stop it first to move SIP to {bind.host}:{bind.port or 'a free port'}")

    def start(self, timeout: float = 60.0) -> InstanceInfo:
        """Start (or find running) and return once ARI answers."""
        if shutil.which(self.binary) is None:
            raise InstanceError(
                f"{self.binary!r} not found on PATH: install Asterisk with "
                "`sudo docker/install-asterisk.sh` (or `make deps`)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self.load_info()
        if previous is not None and pid_alive(previous.pid):
            self._check_running_bind(previous)
            self._wait_ari(previous, timeout)
            if self.sip_accounts is not None:
                self.set_sip_accounts(self.sip_accounts)
            return previous
        info = self._with_bind(self._new_info(previous))
        if self.sip_accounts is not None:
            self.sip_accounts.save(self.directory)
        self._render(info)
        pid = self._daemon.spawn([self.binary, "-f", "-n", "-C", str(self.conf_file)])
        url = f"http://{info.host}:{info.ari_port}"
        info = replace(info, pid=pid, ari_url=url)
        self._save_info(info)
        try:
            version = self._wait_ari(info, timeout)
        except InstanceError:
            self.stop()
            raise
        info = replace(info, version=version)
        self._save_info(info)
        log.info("private asterisk %s started pid=%d ari=%s", version, info.pid, url)
        return info

    def _wait_ari(self, info: InstanceInfo, timeout: float) -> str:
        token = base64.b64encode(f"{info.ari_username}:{info.ari_password}".encode()).decode()
        request = urllib.request.Request(
            f"http://{info.host}:{info.ari_port}/ari/asterisk/info",
            headers={"Authorization": f"Basic {token}"},
        )

        def version() -> str:
            with urllib.request.urlopen(request, timeout=2) as response:
                body = json.loads(response.read())
                return str(body.get("system", {}).get("version", ""))

        return self._daemon.wait_ready(info.pid, version, (urllib.error.URLError, OSError, ValueError),
                                       what="ARI", timeout=timeout, interval=0.1)

    def log_tail(self, lines: int = 20) -> str:
        return self._daemon.log_tail(lines)

    # -- control ---------------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run an Asterisk CLI command on this instance (`asterisk -rx`)."""
        result = subprocess.run(
            [self.binary, "-C", str(self.conf_file), "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise InstanceError(f"asterisk -rx {command!r} failed: {result.stderr.strip()}")
        return result.stdout

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the instance; True when a process was stopped. Never leaves an orphan."""
        info = self.load_info()
        pid = info.pid if info else self._daemon.child_pid
        if not pid or (not pid_alive(pid) and self._daemon.wait_exit(pid, timeout)):
            return False
        with contextlib.suppress(InstanceError, subprocess.TimeoutExpired, OSError):
            self.cli("core stop now", timeout=5)
        if not self._daemon.wait_exit(pid, timeout / 2):
            self._daemon.signal_group(pid, ((signal.SIGTERM, timeout / 4), (signal.SIGKILL, timeout / 4)))
        if pid_alive(pid) or self._daemon.child_pid:
            raise InstanceError(f"asterisk pid {pid} did not stop")
        log.info("private asterisk pid=%d stopped", pid)
        return True

"""A private Kamailio in front of several Asterisk servers: dispatcher list, config, start, probe state, stop."""
from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import secrets
import shutil
import signal
import socket
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from flowengine.asterisk.instance import free_port
from flowengine.asterisk.process import DaemonProcess, load_state, pid_alive, save_state
from flowengine.asterisk.sip_accounts import TrustedPeer, check_sip_port
from flowengine.asterisk.templates import find_template_dir, render

log = logging.getLogger(__name__)

KAMAILIO_BINARY = "kamailio"
STATE_FILE = "kamailio.json"
CONFIG_TEMPLATE = "kamailio/kamailio.cfg"  # under asterisk-conf/
MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/*/kamailio/modules",
               "/usr/lib/kamailio/modules", "/usr/local/lib*/kamailio/modules")
ALGORITHMS = {"round-robin": 4, "hash-callid": 0}  # dispatcher's ds_select_dst algorithm numbers
MAX_UNIX_PATH = 107  # sun_path holds 108 bytes with the terminating NUL


class KamailioError(Exception):
    """The private Kamailio could not be configured, started, asked or stopped."""


@dataclass(frozen=True)
class Destination:
    """One Asterisk server Kamailio dispatches to: its SIP address (UDP)."""

    host: str
    port: int
    name: str = ""

    def __post_init__(self) -> None:
        check_sip_port(self.port)

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Destination:
        """`HOST:PORT` or `NAME=HOST:PORT`."""
        name, sep, address = text.rpartition("=")
        host, colon, port = address.rpartition(":")
        if not colon or not host or not port.isdigit():
            raise KamailioError(f"Asterisk address {text!r}: write HOST:PORT or NAME=HOST:PORT "
                                "(e.g. 10.0.0.11:5060), the SIP address Kamailio sends calls to")
        return cls(host, int(port), name if sep else "")


@dataclass(frozen=True)
class Probing:
    """How fast a dead Asterisk is found: an OPTIONS every `ping_interval` s, given up after `fr_timer_ms`;
    an INVITE that has no reply after `fr_timer_ms` goes to the next server."""

    ping_interval: int = 5
    fr_timer_ms: int = 2000
    fr_inv_timer_ms: int = 60000
    probing_threshold: int = 1  # failed probes before a server is set inactive
    inactive_threshold: int = 1  # answered probes before an inactive server is active again

    def __post_init__(self) -> None:
        if self.ping_interval < 0 or self.fr_timer_ms < 100 or self.fr_inv_timer_ms < self.fr_timer_ms:
            raise KamailioError(f"probing timers {self}: ping_interval >= 0 s (0: no probing), fr_timer_ms "
                                ">= 100, fr_inv_timer_ms >= fr_timer_ms")
        if self.probing_threshold < 1 or self.inactive_threshold < 1:
            raise KamailioError("probing thresholds are counts of probes: 1 or more")


@dataclass(frozen=True)
class DestinationState:
    """What Kamailio thinks of one server: `flags` as dispatcher.list shows them (A active, I inactive,
    T trying, D disabled; P probing)."""

    uri: str
    flags: str

    @property
    def active(self) -> bool:
        return self.flags.startswith("A")

    @property
    def inactive(self) -> bool:
        return self.flags[:1] in ("I", "D")


@dataclass(frozen=True)
class KamailioInfo:
    """Where a private Kamailio listens and whom it dispatches to; printed as JSON by the CLI."""

    directory: str
    pid: int
    host: str
    port: int
    rpc_socket: str
    algorithm: str
    destinations: list[dict[str, Any]] = field(default_factory=list)
    version: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def find_module_dir() -> str:
    """Where Debian (or a source build) put Kamailio's modules."""
    for pattern in MODULE_DIRS:
        for candidate in sorted(glob.glob(pattern)):
            if os.path.exists(os.path.join(candidate, "dispatcher.so")):
                return candidate
    raise KamailioError("Kamailio's dispatcher module not found (looked in " + ", ".join(MODULE_DIRS) +
                        "): install Debian's `kamailio` package (`sudo docker/install-asterisk.sh`)")


def dispatcher_list(destinations: list[Destination]) -> str:
    """The dispatcher list file: every server in set 1, flags 0 (active), probed by ds_probing_mode."""
    lines = ["# flowengine: Asterisk servers behind this Kamailio (setid uri flags priority attrs)"]
    for d in destinations:
        attrs = f"name={d.name}" if d.name else ""
        lines.append(f"1 {d.uri} 0 0 {attrs}".rstrip())
    return "\n".join(lines) + "\n"


class PrivateKamailio:
    """One Kamailio of our own in `directory`, on `host` and a free UDP port (or `port`), dispatching
    inbound calls over `destinations`. Each Asterisk must trust `trusted_peer()` (identify by IP)."""

    def __init__(self, directory: str | Path, destinations: list[Destination] | None = None, *,
                 host: str = "127.0.0.1", port: int | None = None, algorithm: str = "round-robin",
                 probing: Probing | None = None, binary: str = KAMAILIO_BINARY, log_level: int = 2,
                 shm_mb: int = 128) -> None:
        if host in ("0.0.0.0", "::"):
            raise KamailioError("Kamailio must listen on one address of this host, not every one: it is put in "
                                "Record-Route and it is the address each Asterisk trusts (e.g. --listen 192.0.2.5)")
        if algorithm not in ALGORITHMS:
            raise KamailioError(f"dispatch algorithm {algorithm!r}: choose one of {', '.join(ALGORITHMS)}")
        self.directory = Path(directory).resolve()
        self.destinations = list(destinations or [])
        self.host = host
        self.port = port
        self.algorithm = algorithm
        self.probing = probing or Probing()
        self.binary = binary
        self.log_level = log_level
        # Finished transactions stay in shared memory for tm's wait timer (5 s): ~3 MB per 100 calls/s
        self.shm_mb = shm_mb
        self._daemon = DaemonProcess("kamailio", self.log_file, KamailioError)

    @property
    def config_file(self) -> Path:
        return self.directory / "kamailio.cfg"

    @property
    def list_file(self) -> Path:
        return self.directory / "dispatcher.list"

    @property
    def rpc_socket(self) -> Path:
        return self.directory / "rpc.sock"

    @property
    def log_file(self) -> Path:
        return self.directory / "kamailio.out"

    def trusted_peer(self, name: str = "kamailio") -> TrustedPeer:
        """The Asterisk side's `--sip-trust`: calls from this Kamailio's address need no password."""
        return TrustedPeer(name, self.host)

    # -- state -----------------------------------------------------------------------------
    def load_info(self) -> KamailioInfo | None:
        data = load_state(self.directory / STATE_FILE)
        return KamailioInfo(**data) if data is not None else None

    def _save_info(self, info: KamailioInfo) -> None:
        save_state(self.directory / STATE_FILE, info.to_dict())

    def running(self) -> bool:
        info = self.load_info()
        return info is not None and pid_alive(info.pid)

    # -- start -----------------------------------------------------------------------------
    def render(self, port: int, rpc_socket: Path | None = None) -> list[Path]:
        """Write kamailio.cfg and dispatcher.list into the folder; return them. `rpc_socket` elsewhere than the
        folder: for a Kamailio run by a service or a container, whose config folder may be read-only."""
        if not self.destinations:
            raise KamailioError("no Asterisk to dispatch to: give at least one HOST:PORT")
        socket_path = rpc_socket or self.rpc_socket
        if len(str(socket_path)) > MAX_UNIX_PATH:
            raise KamailioError(f"{socket_path} is too long for a Unix socket path: choose a shorter folder")
        template = find_template_dir("asterisk-conf") / CONFIG_TEMPLATE
        try:
            module_dir = find_module_dir()
        except KamailioError:
            if rpc_socket is None:  # this host runs it: the modules must be here
                raise
            module_dir = MODULE_DIRS[0]  # rendered for another host (a container): Debian's amd64 path
        p = self.probing
        values = {"log_level": self.log_level, "children": 2, "listen_host": self.host, "listen_port": port,
                  "module_dir": module_dir, "rpc_socket": socket_path,
                  "dispatcher_list": self.list_file, "algorithm": ALGORITHMS[self.algorithm],
                  "ping_interval": p.ping_interval, "fr_timer_ms": p.fr_timer_ms,
                  "fr_inv_timer_ms": p.fr_inv_timer_ms, "probing_threshold": p.probing_threshold,
                  "inactive_threshold": p.inactive_threshold}
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(render(template.read_text(), values, str(template)))
        self.list_file.write_text(dispatcher_list(self.destinations))
        return [self.config_file, self.list_file]

    def start(self, timeout: float = 15.0) -> KamailioInfo:
        """Start (or find running) and return once its control socket answers."""
        if shutil.which(self.binary) is None:
            raise KamailioError(f"{self.binary!r} not found on PATH: install Debian's `kamailio` package "
                                "(`sudo docker/install-asterisk.sh`, or `make deps`)")
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self.load_info()
        if previous is not None and pid_alive(previous.pid):
            return previous
        try:
            port = self.port or (previous.port if previous else 0) or free_port(self.host, socket.SOCK_DGRAM)
        except OSError as exc:
            raise KamailioError(f"cannot listen on {self.host}: {exc.strerror} (give an address of this host, "
                                "e.g. 127.0.0.1)") from None
        self.render(port)
        with contextlib.suppress(FileNotFoundError):
            self.rpc_socket.unlink()
        (self.directory / "run").mkdir(exist_ok=True)
        args = [self.binary, "-f", str(self.config_file), "-DD", "-E", "-Y", str(self.directory / "run"),
                "-P", str(self.directory / "kamailio.pid"), "-m", str(self.shm_mb), "-M", "4"]
        pid = self._daemon.spawn(args, cwd=self.directory)
        info = KamailioInfo(str(self.directory), pid, self.host, port, str(self.rpc_socket),
                            self.algorithm, [asdict(d) for d in self.destinations])
        self._save_info(info)
        try:
            version = self._wait_rpc(info, timeout)
        except KamailioError:
            self.stop()
            raise
        info = replace(info, version=version)
        self._save_info(info)
        log.info("private kamailio %s started pid=%d sip=%s:%d destinations=%s", version, info.pid, self.host,
                 port, [d.uri for d in self.destinations])
        return info

    def _wait_rpc(self, info: KamailioInfo, timeout: float) -> str:
        return self._daemon.wait_ready(info.pid, lambda: str(self.rpc("core.version", timeout=1.0)),
                                       (KamailioError,), what="kamailio's control socket", timeout=timeout,
                                       interval=0.05)

    def log_tail(self, lines: int = 20) -> str:
        return self._daemon.log_tail(lines)

    # -- control ---------------------------------------------------------------------------
    def rpc(self, method: str, *params: object, timeout: float = 5.0) -> Any:
        """Call a JSON-RPC method on the control socket (blocking; run it in a thread from async code)."""
        client = self.directory / f"rpc-{os.getpid()}-{secrets.token_hex(4)}.sock"
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.bind(str(client))
            try:
                s.settimeout(timeout)
                s.sendto(json.dumps(request).encode(), str(self.rpc_socket))
                reply = json.loads(s.recv(1 << 20))
            except (OSError, ValueError) as exc:
                raise KamailioError(f"kamailio RPC {method}: {exc}") from None
            finally:
                client.unlink()
        if "error" in reply:
            raise KamailioError(f"kamailio RPC {method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result")

    def states(self) -> list[DestinationState]:
        """The dispatcher's view of every server (in its own order, not the file's)."""
        result = self.rpc("dispatcher.list")
        states = []
        for record in result.get("RECORDS", []):
            for target in record.get("SET", {}).get("TARGETS", []):
                dest = target["DEST"]
                states.append(DestinationState(dest["URI"], dest["FLAGS"]))
        return states

    def state_of(self, destination: Destination) -> DestinationState:
        for state in self.states():
            if state.uri == destination.uri:
                return state
        raise KamailioError(f"{destination.uri} is not in kamailio's dispatcher list")

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the instance (SIGTERM, then SIGKILL to its process group); True when a process was stopped."""
        info = self.load_info()
        pid = info.pid if info else self._daemon.child_pid
        if not pid or not pid_alive(pid):
            self._daemon.reap(0.1)
            return False
        self._daemon.signal_group(pid, ((signal.SIGTERM, timeout * 0.7), (signal.SIGKILL, timeout * 0.3)))
        if pid_alive(pid):
            raise KamailioError(f"kamailio pid {pid} did not stop")
        log.info("private kamailio pid=%d stopped", pid)
        return True

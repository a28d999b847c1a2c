"""A private daemon's process: state file, start in its own session, wait for readiness, log tail, stop."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def load_state(path: Path) -> dict[str, Any] | None:
    """The JSON a daemon's last start saved in `path`, or None when it never started there."""
    return json.loads(path.read_text()) if path.exists() else None


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Save `state` readable by its owner only: it may hold passwords."""
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


class DaemonProcess:
    """One private daemon run by this process: `name` (as messages say it) started in its own session with its
    output appended to `log_file`; failures raise `error`, the daemon's own exception class.

    A daemon found running from an earlier start is known only by its pid (from the state file); the one
    started here is also our child, reaped with wait() so that no zombie is left behind."""

    def __init__(self, name: str, log_file: Path, error: type[Exception]) -> None:
        self.name = name
        self.log_file = log_file
        self.error = error
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def child_pid(self) -> int:
        """The pid of the daemon started here (0 when none is, or it has been reaped)."""
        return self._proc.pid if self._proc is not None else 0

    def spawn(self, args: Sequence[str], cwd: Path | None = None) -> int:
        """Start `args` in a session of its own (so stop() reaches every process it starts); its pid."""
        with open(self.log_file, "ab") as out:
            self._proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
        return self._proc.pid

    def wait_ready(self, pid: int, probe: Callable[[], T], errors: tuple[type[Exception], ...], *,
                   what: str, timeout: float, interval: float) -> T:
        """Call `probe` every `interval` s until it returns; `errors` it raises mean "not yet". Raises `error`
        with the log's tail if the daemon exits first, or naming `what` did not answer after `timeout` s."""
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if not pid_alive(pid) or (self._proc is not None and self._proc.poll() is not None):
                raise self.error(f"{self.name} exited during start-up; last lines of {self.log_file}:\n"
                                 + self.log_tail())
            try:
                return probe()
            except errors as exc:
                last_error = str(exc)
            time.sleep(interval)
        raise self.error(f"{what} did not answer within {timeout:.0f}s: {last_error}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def signal_group(self, pid: int, steps: Sequence[tuple[int, float]]) -> bool:
        """Send each signal of `steps` to `pid`'s process group in turn, waiting its time for the end; True
        when it ended."""
        for sig, wait in steps:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            if self.wait_exit(pid, wait):
                return True
        return False

    def reap(self, timeout: float) -> bool:
        """Wait for our child to end and reap it; True when there is none left."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self._proc = None
        return True

    def wait_exit(self, pid: int, timeout: float) -> bool:
        """Wait for `pid` to end. Our own child is reaped with wait(): its /proc entry turns zombie while
        the daemon's other threads still finish, before it can be reaped."""
        if self._proc is not None and self._proc.pid == pid:
            return self.reap(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
        return False

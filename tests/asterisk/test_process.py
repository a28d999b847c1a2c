"""DaemonProcess: a real child started in its own session, waited for, stopped by process group."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from flowengine.asterisk.process import DaemonProcess, load_state, pid_alive, save_state


class DaemonError(Exception):
    pass


def test_state_round_trip_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    assert load_state(path) is None
    save_state(path, {"pid": 12, "password": "x"})
    assert load_state(path) == {"pid": 12, "password": "x"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_ready_then_stopped_with_its_whole_group(tmp_path: Path) -> None:
    daemon = DaemonProcess("sleeper", tmp_path / "out.log", DaemonError)
    # the shell starts a grandchild: only a signal to the group reaches it
    pid = daemon.spawn(["sh", "-c", "echo up; sleep 60 & echo $! > child.pid; wait"], cwd=tmp_path)
    assert daemon.child_pid == pid and pid_alive(pid)
    ready = daemon.wait_ready(pid, lambda: (tmp_path / "child.pid").read_text().strip() or int("x"),
                              (OSError, ValueError), what="sleeper", timeout=10, interval=0.02)
    grandchild = int(ready)
    assert os.getpgid(grandchild) == pid  # its own session: pid is the group
    assert daemon.log_tail() == "up"
    assert daemon.signal_group(pid, ((signal.SIGTERM, 5.0),))
    assert daemon.child_pid == 0  # reaped: no zombie left
    deadline = time.monotonic() + 5
    while pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(pid) and not pid_alive(grandchild)


def test_exit_during_start_up_names_the_log(tmp_path: Path) -> None:
    daemon = DaemonProcess("crasher", tmp_path / "out.log", DaemonError)
    pid = daemon.spawn(["sh", "-c", "echo bad config line 3; exit 1"])
    with pytest.raises(DaemonError, match=r"crasher exited during start-up; last lines of .*out.log:\nbad config"):
        daemon.wait_ready(pid, lambda: int("x"), (ValueError,), what="crasher", timeout=10, interval=0.02)
    assert daemon.reap(5) and daemon.child_pid == 0


def test_no_answer_in_time_says_what_and_the_last_error(tmp_path: Path) -> None:
    daemon = DaemonProcess("mute", tmp_path / "out.log", DaemonError)
    pid = daemon.spawn(["sleep", "60"])
    try:
        with pytest.raises(DaemonError, match=r"mute's socket did not answer within 0s: .*invalid literal"):
            daemon.wait_ready(pid, lambda: int("x"), (ValueError,), what="mute's socket", timeout=0.2,
                              interval=0.02)
        assert daemon.log_tail() == ""
    finally:
        assert daemon.signal_group(pid, ((signal.SIGKILL, 5.0),))
    assert DaemonProcess("none", tmp_path / "missing.log", DaemonError).log_tail() == "(no log)"

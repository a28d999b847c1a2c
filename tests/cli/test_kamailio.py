"""`flowengine kamailio start|status|stop` as a user runs it: a silent Asterisk address is probed out."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

from flowengine.asterisk.instance import free_port
from tests.cli.test_commands import flowengine
from tests.support import processes_using

LISTEN = "127.0.0.4"


def test_kamailio_start_status_stop(tmp_path: Path) -> None:
    folder = tmp_path / "kam"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # an "Asterisk" that never answers
        hole.bind(("127.0.0.1", free_port("127.0.0.1", socket.SOCK_DGRAM)))
        silent = f"127.0.0.1:{hole.getsockname()[1]}"
        started = flowengine("kamailio", "start", "--dir", str(folder), "--asterisk", f"a={silent}",
                             "--listen", LISTEN, "--ping-interval", "1")
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        assert info["host"] == LISTEN and info["version"].startswith("kamailio 5.")
        assert f"--sip-trust kamailio={LISTEN}" in started.stderr
        try:
            again = flowengine("kamailio", "start", "--dir", str(folder))  # idempotent: same instance
            assert json.loads(again.stdout)["pid"] == info["pid"]
            deadline = time.monotonic() + 10
            while True:
                status = flowengine("kamailio", "status", "--dir", str(folder))
                assert status.returncode == 0, status.stderr
                [state] = json.loads(status.stdout)["states"]
                if state["flags"].startswith("I") or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert state["uri"] == f"sip:{silent}" and state["active"] is False, state
        finally:
            stopped = flowengine("kamailio", "stop", "--dir", str(folder))
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"] is True
    assert processes_using(folder / "kamailio.cfg") == []  # no orphan
    status = flowengine("kamailio", "status", "--dir", str(folder))
    assert status.returncode == 3 and json.loads(status.stdout)["running"] is False


def test_kamailio_start_names_a_bad_address() -> None:
    result = flowengine("kamailio", "start", "--dir", "/nonexistent/never", "--asterisk", "10.0.0.1")
    assert result.returncode == 1
    assert "write HOST:PORT or NAME=HOST:PORT" in result.stderr


def test_kamailio_help() -> None:
    result = flowengine("kamailio", "--help")
    assert result.returncode == 0 and "--sip-trust kamailio=ADDRESS" in result.stdout


def test_kamailio_render_writes_a_config_kamailio_accepts(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    result = flowengine("kamailio", "render", "--dir", str(folder), "--listen", "192.0.2.5",
                        "--asterisk", "a=192.0.2.11:5060", "--asterisk", "b=192.0.2.12:5060")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["listen"] == "192.0.2.5:5060" and report["trust"] == "kamailio=192.0.2.5"
    assert (folder / "dispatcher.list").read_text().splitlines()[1:] == [
        "1 sip:192.0.2.11:5060 0 0 name=a", "1 sip:192.0.2.12:5060 0 0 name=b"]
    config = (folder / "kamailio.cfg").read_text()
    assert "listen=udp:192.0.2.5:5060" in config and "{{" not in config
    # Kamailio's own check: syntax, modules and their parameters (it binds nothing with -c)
    check = subprocess.run(["kamailio", "-c", "-f", str(folder / "kamailio.cfg")], capture_output=True, text=True,
                           timeout=30, check=False)
    assert check.returncode == 0, check.stderr[-2000:]

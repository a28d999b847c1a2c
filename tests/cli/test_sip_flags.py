"""The SIP flags as a user types them: `asterisk start --sip-...` and `demo --sip-account` with a softphone calling."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from pathlib import Path

import numpy as np
import pytest
import soxr

from flowengine.asterisk.instance import free_port
from flowengine.providers.stt import STT_PROVIDERS
from tests.asterisk.sipp import Softphone
from tests.cli.test_commands import FLOWENGINE, flowengine
from tests.support import processes_using

pytestmark = pytest.mark.asterisk

PASSWORD = "s3cret-never-printed"


def test_asterisk_start_adds_accounts_keeps_them_and_never_prints_a_password(tmp_path: Path) -> None:
    folder = tmp_path / "ast"
    port = free_port("127.0.0.1", socket.SOCK_DGRAM)
    started = flowengine("asterisk", "start", "--dir", str(folder), "--sip-account", f"alice:{PASSWORD}",
                         "--sip-account", "bob:other-pw", "--sip-trust", "office=192.0.2.0/24",
                         "--sip-bind", f"127.0.0.1:{port}")
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads(started.stdout)
        assert info["sip_port"] == port and info["sip"]["bind"] == f"127.0.0.1:{port}"
        assert info["sip"]["uri"] == f"sip:1000@127.0.0.1:{port}"
        assert info["sip"]["accounts"] == ["alice", "bob"]
        assert info["sip"]["trusted"] == [{"name": "office", "address": "192.0.2.0/24"}]
        assert f"sip:1000@127.0.0.1:{port}" in started.stderr and "user alice" in started.stderr
        for secret in (PASSWORD, "other-pw"):
            assert secret not in started.stdout + started.stderr
        for path in (folder / "etc" / "pjsip_accounts.conf", folder / "sip_accounts.json"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stopped = flowengine("asterisk", "stop", "--dir", str(folder))
        assert stopped.returncode == 0
        again = flowengine("asterisk", "start", "--dir", str(folder))  # no flags: the same accounts and port
        assert again.returncode == 0, again.stderr
        info = json.loads(again.stdout)
        assert info["sip_port"] == port and info["sip"]["accounts"] == ["alice", "bob"]
        assert PASSWORD not in again.stdout + again.stderr
        endpoints = flowengine("asterisk", "status", "--dir", str(folder))
        assert json.loads(endpoints.stdout)["sip"]["accounts"] == ["alice", "bob"]
        moved = flowengine("asterisk", "start", "--dir", str(folder), "--sip-bind", "0.0.0.0")
        assert moved.returncode == 1 and "stop it first to move SIP to 0.0.0.0" in moved.stderr
        cleared = flowengine("asterisk", "start", "--dir", str(folder), "--sip-clear")  # reloaded, running
        assert cleared.returncode == 0 and json.loads(cleared.stdout)["sip"]["accounts"] == []
    finally:
        flowengine("asterisk", "stop", "--dir", str(folder))
    assert processes_using(folder / "etc" / "asterisk.conf") == []


@pytest.mark.parametrize(("args", "message"), [
    (["--sip-account", "alice"], "SIP account 'alice' has no password"),
    (["--sip-trust", "office=pbx.example.com"], "'pbx.example.com' is not an IP address"),
    (["--sip-bind", "0.0.0.0:30000"], "inside the RTP port range 20000-39999"),
])
def test_bad_sip_flags_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = flowengine("asterisk", "start", "--dir", str(tmp_path / "ast"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "ast").exists()  # nothing started, nothing written


async def test_a_softphone_registers_and_calls_the_demos_ai_receptionist(tmp_path: Path) -> None:
    port = free_port("127.0.0.1", socket.SOCK_DGRAM)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWENGINE_")}
    demo = await asyncio.create_subprocess_exec(
        *FLOWENGINE, "demo", "--json", "--dir", str(tmp_path / "demo"), "--sip-account", f"alice:{PASSWORD}",
        "--sip-bind", f"127.0.0.1:{port}", "--call-timeout", "120", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert demo.stderr is not None
    try:
        first = b""
        async with asyncio.timeout(180):  # Asterisk, the engine, the speech models
            while b"Call the AI receptionist" not in first:
                line = await demo.stderr.readline()
                assert line, "the demo ended before saying how to dial"
                first += line
        assert f"sip:1000@127.0.0.1:{port}".encode() in first

        phone = Softphone(("127.0.0.1", port), "alice", PASSWORD, workdir=tmp_path)
        registered = await phone.run("register.xml")
        assert registered.ok and registered.responses == [401, 200], registered.messages
        async with phone.ear() as (ear, rtp_port):
            called = await phone.run("call_digest.xml", call_ms=9000, rtp_port=rtp_port)
        assert called.ok, called.messages
        out, err = await asyncio.wait_for(demo.communicate(), 60)  # the demo ends with the call
    finally:
        if demo.returncode is None:
            demo.kill()
            await demo.wait()
    assert demo.returncode == 0, err.decode()
    assert PASSWORD.encode() not in out + err + first
    report = json.loads(out)
    agent = [line["text"] for line in report["transcript"] if line["role"] == "agent"]
    assert agent and "Bright Smile" in agent[0], report

    assert ear.audible_seconds() > 1.0, f"{len(ear.frames)} RTP frames, {ear.audible_seconds():.2f}s audible"
    stt = STT_PROVIDERS.create("whisper")  # what the softphone heard is the receptionist's greeting
    heard = await stt.transcribe(soxr.resample(ear.pcm(), 8000, 16000).astype(np.int16))
    assert "bright smile" in heard.text.lower(), heard.text
    assert processes_using(tmp_path / "demo" / "asterisk" / "etc" / "asterisk.conf") == []


def test_demo_sip_bind_needs_someone_who_may_call() -> None:
    result = flowengine("demo", "--sip-bind", "127.0.0.1:5070")
    assert result.returncode == 2 and "--sip-bind needs --sip-account or --sip-trust" in result.stderr

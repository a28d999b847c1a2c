"""AMI through panoramisk on the real Asterisk: login, ping, events, Originate, bad secret."""
from __future__ import annotations

import asyncio

import pytest

from flowengine.asterisk.ami import AmiAuthError, AmiClient
from tests.conftest import Asterisk


async def test_login_ping_events_and_originate(asterisk: Asterisk) -> None:
    info = asterisk.info
    ami = AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret)
    await ami.connect()
    try:
        assert ami.authenticated
        assert await ami.ping() < 5
        channels: list[str] = []
        sub = ami.subscribe("Newchannel", lambda m: channels.append(str(m.get("Channel"))))
        result = await ami.originate("Local/wait@flowengine-test", application="Wait", data="0.2",
                                     timeout_ms=5000)
        assert result.success and result.reason == "answered"
        assert result.channel.startswith("Local/wait@flowengine-test")
        assert any(c.startswith("Local/wait@flowengine-test") for c in channels)
        sub.close()

        busy = await ami.originate("Local/busy@flowengine-test", application="Wait", data="1", timeout_ms=5000)
        assert not busy.success and busy.reason == "busy"
        await asyncio.sleep(0.3)
    finally:
        await ami.aclose()


async def test_wrong_secret_is_a_clear_error(asterisk: Asterisk) -> None:
    info = asterisk.info
    ami = AmiClient(info.host, info.ami_port, info.ami_username, "not-the-secret")
    with pytest.raises(AmiAuthError, match="AMI refused login for user 'flowengine'"):
        await ami.connect(timeout=10)
    assert not ami.authenticated

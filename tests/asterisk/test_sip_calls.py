"""An outside softphone (SIPp) reaches the private Asterisk through the SIP accounts of `sip_accounts`."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from flowengine.asterisk.app import AriApp, Call
from flowengine.asterisk.ari.client import AriClient
from flowengine.asterisk.routing import RouteTable
from flowengine.asterisk.sip_accounts import SipAccounts
from tests.asterisk.sipp import Softphone
from tests.conftest import Asterisk
from tests.support import eventually

pytestmark = pytest.mark.asterisk

PASSWORD = "correct-horse-7"
TRUSTED_IP = "127.0.0.2"  # loopback too, but not the address the digest phone calls from


@pytest.fixture
def accounts(asterisk: Asterisk) -> Iterator[SipAccounts]:
    """A digest account and a trusted address, loaded into the session's Asterisk (reload, no restart)."""
    given = SipAccounts.parse([f"alice:{PASSWORD}"], [f"office={TRUSTED_IP}"])
    asterisk.instance.set_sip_accounts(given)
    try:
        yield given
    finally:
        asterisk.instance.set_sip_accounts(SipAccounts())


def phone(asterisk: Asterisk, tmp_path: Path, user: str, password: str = "", local_ip: str = "127.0.0.1") -> Softphone:
    return Softphone((asterisk.info.sip_bind_host, asterisk.info.sip_port), user, password, local_ip, tmp_path)


@pytest.fixture
async def answering(ari: AriClient) -> AsyncIterator[asyncio.Queue[Call]]:
    """The ARI app answers every call and plays a known recording into it."""
    calls: asyncio.Queue[Call] = asyncio.Queue()

    async def handle(call: Call) -> None:
        await calls.put(call)
        await call.channel.answer()
        await call.channel.play("sound:tt-monkeys")
        await call.ended.wait()

    app = AriApp(ari, RouteTable(default_flow="main"), handle)
    try:
        yield calls
    finally:
        await app.aclose()


async def test_a_softphone_registers_with_its_digest_account(asterisk: Asterisk, accounts: SipAccounts,
                                                            tmp_path: Path) -> None:
    result = await phone(asterisk, tmp_path, "alice", PASSWORD).run("register.xml")
    assert result.ok, result.messages
    assert result.responses == [401, 200]  # challenged, then accepted
    assert "alice/sip:alice@127.0.0.1" in asterisk.instance.cli("pjsip show aor alice")


@pytest.mark.parametrize(("user", "local_ip"), [("alice", "127.0.0.1"), ("office", TRUSTED_IP)])
async def test_a_call_reaches_the_app_and_hears_it(asterisk: Asterisk, accounts: SipAccounts,
                                                   answering: asyncio.Queue[Call], tmp_path: Path,
                                                   user: str, local_ip: str) -> None:
    softphone = phone(asterisk, tmp_path, user, PASSWORD if user == "alice" else "", local_ip)
    scenario = "call_digest.xml" if user == "alice" else "call_trusted.xml"
    async with softphone.ear() as (ear, rtp_port):
        result = await softphone.run(scenario, call_ms=3000, rtp_port=rtp_port)
        call = answering.get_nowait()
    assert result.ok, result.messages
    assert result.responses[-1] == 200  # the BYE's
    assert result.responses.count(401) == (1 if user == "alice" else 0)
    assert call.channel.snapshot is not None and call.channel.snapshot.name.startswith(f"PJSIP/{user}-")
    assert call.dialed == "1000"
    assert ear.audible_seconds() > 1.5, f"heard {len(ear.frames)} frames, {ear.audible_seconds():.2f}s audible"
    await asyncio.wait_for(call.ended.wait(), 10)
    await eventually(lambda: asterisk.channels() == [], what="no channels left")


@pytest.mark.parametrize(("user", "password", "reason"), [
    ("alice", "wrong-password", "Failed to authenticate"),
    ("office", "anything", "No matching endpoint found"),  # a trusted name is no password-free pass elsewhere
])
async def test_a_wrong_password_or_a_trusted_name_from_elsewhere_is_refused(
        asterisk: Asterisk, accounts: SipAccounts, answering: asyncio.Queue[Call], tmp_path: Path,
        user: str, password: str, reason: str) -> None:
    result = await phone(asterisk, tmp_path, user, password).run("call_refused.xml")
    assert result.ok, result.messages  # the scenario fails on any answer
    assert result.responses[0] == 401 and result.responses[-1] in (401, 403)
    assert 200 not in result.responses
    assert answering.empty()

    def refused() -> bool:
        return any(f"(callid: {result.call_id}) - {reason}" in line
                   for line in asterisk.instance.log_tail(200).splitlines())

    await eventually(refused, what=f"Asterisk logging the refusal ({reason})")

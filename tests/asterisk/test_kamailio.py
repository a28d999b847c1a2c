"""Kamailio in front of two private Asterisks: calls spread over both, a dead one is probed out and skipped."""
from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from flowengine.asterisk.instance import free_port
from flowengine.asterisk.kamailio import Destination, KamailioError, PrivateKamailio, Probing, dispatcher_list
from tests.asterisk.cluster import CALLER_IP, KAMAILIO_IP, Cluster, Node, running_cluster, states
from tests.asterisk.sipp import SippResult, Softphone
from tests.support import eventually

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Kamailio on 127.0.0.3 dispatching over two Asterisks (ARI apps node-a, node-b), both started at once."""
    with running_cluster(tmp_path_factory.mktemp) as running:
        yield running


@pytest.fixture
async def nodes(cluster: Cluster) -> AsyncIterator[dict[str, Node]]:
    """Both nodes' ARI apps answering, their call lists empty."""
    for node in cluster.nodes.values():
        node.calls.clear()
        node.hang_up_after = None
        node.ring_only = False
        await node.answer()
    try:
        yield cluster.nodes
    finally:
        for node in cluster.nodes.values():
            await node.close()


async def call(phone: Softphone, call_ms: int = 1500) -> tuple[SippResult, float]:
    """One call through Kamailio; returns SIPp's result and the seconds of audio heard from the answerer."""
    async with phone.ear() as (ear, rtp_port):
        result = await phone.run("call_trusted.xml", call_ms=call_ms, rtp_port=rtp_port)
    return result, ear.audible_seconds()


def test_the_dispatcher_list_names_every_asterisk_in_set_one() -> None:
    text = dispatcher_list([Destination("10.0.0.11", 5060, "a"), Destination("10.0.0.12", 5062)])
    assert text.splitlines()[1:] == ["1 sip:10.0.0.11:5060 0 0 name=a", "1 sip:10.0.0.12:5062 0 0"]
    assert Destination.parse("b=10.0.0.12:5062") == Destination("10.0.0.12", 5062, "b")
    with pytest.raises(KamailioError, match="HOST:PORT"):
        Destination.parse("10.0.0.12")
    with pytest.raises(KamailioError, match="algorithm"):
        PrivateKamailio(".", algorithm="random")
    with pytest.raises(KamailioError, match="Record-Route"):
        PrivateKamailio(".", host="0.0.0.0")


def test_a_kamailio_that_cannot_start_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    elsewhere = "192.0.2.5"  # an address this host does not have
    kamailio = PrivateKamailio(tmp_path / "k", [Destination("127.0.0.1", 5999)], host=elsewhere, port=5999)
    with pytest.raises(KamailioError, match="exited during start-up") as failed:
        kamailio.start(timeout=10)
    assert elsewhere in str(failed.value)  # Kamailio's own log lines say what went wrong
    assert not kamailio.running()
    with pytest.raises(KamailioError, match=f"cannot listen on {elsewhere}: Cannot assign requested address"):
        PrivateKamailio(tmp_path / "k2", [Destination("127.0.0.1", 5999)], host=elsewhere).start()


async def test_options_probes_find_both_asterisks_alive(cluster: Cluster) -> None:
    async def probed_alive() -> bool:
        found = await states(cluster.kamailio)
        return all(found[n.destination.uri].flags == "AP" for n in cluster.nodes.values())

    await eventually(probed_alive, timeout=10, what="both Asterisks active and probed (flags AP)")


async def test_calls_through_kamailio_spread_over_both_asterisks(cluster: Cluster, nodes: dict[str, Node],
                                                                 tmp_path: Path) -> None:
    results = await asyncio.gather(*(call(cluster.phone(tmp_path, f"caller{i}")) for i in range(4)))
    for result, heard in results:
        assert result.ok, result.messages
        assert result.responses[-1] == 200  # the BYE's, relayed back through Kamailio (record-route)
        assert heard > 0.5, f"heard {heard:.2f}s of the answering Asterisk"
        assert "Record-Route: <sip:127.0.0.3:" in result.messages
    assert [len(n.calls) for n in nodes.values()] == [2, 2]  # round-robin
    for node in nodes.values():
        for c in node.calls:
            assert c.channel.snapshot is not None and c.channel.snapshot.name.startswith("PJSIP/kamailio-")
            assert c.dialed == "1000"
            await asyncio.wait_for(c.ended.wait(), 10)


async def test_asterisk_hangs_up_through_kamailio(cluster: Cluster, nodes: dict[str, Node], tmp_path: Path) -> None:
    """Asterisk's BYE follows the route set (Record-Route), so the caller gets it from Kamailio."""
    for node in nodes.values():
        node.hang_up_after = 0.3
    phone = cluster.phone(tmp_path)
    for _ in range(2):
        result = await phone.run("call_hungup.xml")
        assert result.ok, result.messages
        bye = next(part for part in result.messages.split("----") if "message received" in part and "BYE sip:" in part)
        assert f"Via: SIP/2.0/UDP {KAMAILIO_IP}:" in bye, bye
    assert [len(n.calls) for n in nodes.values()] == [1, 1]


async def test_a_caller_who_gives_up_while_it_rings_cancels_through_kamailio(
        cluster: Cluster, nodes: dict[str, Node], tmp_path: Path) -> None:
    for node in nodes.values():
        node.ring_only = True
    results = await asyncio.gather(*(cluster.phone(tmp_path, f"caller{i}").run("call_cancelled.xml", call_ms=300)
                                     for i in range(2)))
    for result in results:
        assert result.ok, result.messages
        assert result.responses[-2:] == [200, 487]  # the CANCEL's, then the INVITE's
    for node in nodes.values():
        [ringing] = node.calls
        await asyncio.wait_for(ringing.ended.wait(), 10)  # Asterisk got the CANCEL: the channel is gone


async def test_asterisk_trusts_kamailio_not_the_caller_behind_it(cluster: Cluster, nodes: dict[str, Node],
                                                                 tmp_path: Path) -> None:
    a = nodes["a"].info
    direct = Softphone((a.sip_bind_host, a.sip_port), "caller", "", CALLER_IP, tmp_path)
    result = await direct.run("call_refused.xml")
    assert result.ok, result.messages
    assert 200 not in result.responses
    assert nodes["a"].calls == []


def test_kamailio_refuses_registrations(cluster: Cluster) -> None:
    info = cluster.kamailio.load_info()
    assert info is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((CALLER_IP, 0))
        phone.settimeout(5)
        port = phone.getsockname()[1]
        phone.sendto((f"REGISTER sip:{info.host}:{info.port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP {CALLER_IP}:{port};branch=z9hG4bK-reg-1;rport\r\n"
                      f"From: <sip:alice@{info.host}>;tag=1\r\nTo: <sip:alice@{info.host}>\r\n"
                      f"Call-ID: reg-1@{CALLER_IP}\r\nCSeq: 1 REGISTER\r\n"
                      f"Contact: <sip:alice@{CALLER_IP}:{port}>\r\nMax-Forwards: 70\r\nExpires: 60\r\n"
                      "Content-Length: 0\r\n\r\n").encode(), (info.host, info.port))
        reply = phone.recv(4096).decode()
    assert reply.startswith("SIP/2.0 403 Register With An Asterisk Directly"), reply


async def test_an_asterisk_without_its_engine_answers_503_and_the_call_fails_over(
        cluster: Cluster, nodes: dict[str, Node], tmp_path: Path) -> None:
    """OPTIONS cannot tell that node b's engine is gone (Asterisk answers them itself); the dialplan's 503
    for a Stasis app nobody holds makes Kamailio send the call to node a and set b inactive until probed."""
    b = nodes["b"]
    await b.close()
    for i in range(2):  # round-robin: one of the two is offered to b first
        result, _ = await call(cluster.phone(tmp_path, f"caller{i}"), 500)
        assert result.ok, result.messages
        assert 503 not in result.responses  # the 503 stays between Kamailio and b
    assert (len(nodes["a"].calls), len(b.calls)) == (2, 0)
    assert f"Asterisk {b.destination.uri} failed (503)" in cluster.kamailio.log_tail(100)
    await b.answer()

    async def b_active() -> bool:
        return (await states(cluster.kamailio))[b.destination.uri].active

    await eventually(b_active, timeout=10, what="the next OPTIONS probe setting b active again")


async def test_a_dead_asterisk_is_probed_out_and_back_in(cluster: Cluster, nodes: dict[str, Node],
                                                         tmp_path: Path) -> None:
    b = nodes["b"]
    await b.close()
    await asyncio.to_thread(b.instance.stop)

    async def b_inactive() -> bool:
        return (await states(cluster.kamailio))[b.destination.uri].inactive

    await eventually(b_inactive, timeout=10, what="Kamailio setting the stopped Asterisk inactive")
    seen = len(cluster.kamailio.log_file.read_text(errors="replace"))
    results = await asyncio.gather(*(call(cluster.phone(tmp_path, f"caller{i}"), 1000) for i in range(4)))
    assert all(r.ok for r, _ in results), [r.messages for r, _ in results if not r.ok]
    assert (len(nodes["a"].calls), len(b.calls)) == (4, 0)
    dispatched = cluster.kamailio.log_file.read_text(errors="replace")[seen:]
    assert dispatched.count(f"to {nodes['a'].destination.uri}") == 4
    assert f"to {b.destination.uri}" not in dispatched  # skipped, not tried and failed over

    await asyncio.to_thread(b.instance.start)  # same ports as before: the dispatcher list still holds
    await b.answer()

    async def b_active() -> bool:
        return (await states(cluster.kamailio))[b.destination.uri].active

    await eventually(b_active, timeout=10, what="Kamailio setting the restarted Asterisk active again")
    for i in range(2):
        result, _ = await call(cluster.phone(tmp_path, f"back{i}"), 500)
        assert result.ok, result.messages
    assert len(b.calls) == 1


async def test_an_invite_a_server_does_not_answer_fails_over_to_the_next(cluster: Cluster, nodes: dict[str, Node],
                                                                         tmp_path: Path) -> None:
    """Probing off: the failure route alone finds the silent server (408 after fr_timer) and sets it inactive."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # bound, never read: no reply, no ICMP
        hole.bind(("127.0.0.1", free_port("127.0.0.1", socket.SOCK_DGRAM)))
        silent = Destination("127.0.0.1", hole.getsockname()[1], "silent")
        kamailio = PrivateKamailio(tmp_path / "k", [silent, nodes["a"].destination], host=KAMAILIO_IP,
                                   probing=Probing(ping_interval=0, fr_timer_ms=1000))
        info = await asyncio.to_thread(kamailio.start)
        try:
            phone = Softphone((info.host, info.port), "caller", "", CALLER_IP, tmp_path)
            for _ in range(2):  # round-robin: one of the two goes to the silent server first
                result = await phone.run("call_trusted.xml", call_ms=500)
                assert result.ok, result.messages
            assert len(nodes["a"].calls) == 2
            found = await states(kamailio)
            assert found[silent.uri].inactive and found[nodes["a"].destination.uri].active
            assert f"Asterisk {silent.uri} failed (408)" in kamailio.log_tail(100)
        finally:
            await asyncio.to_thread(kamailio.stop)

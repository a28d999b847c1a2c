"""UDP transport over real loopback sockets: source pinning, counters, port range, advertise address."""
from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import pytest

from flowengine.media.rtp import RtpPacket
from flowengine.media.transport import NoFreePortError, RtpTransport
from tests.support import eventually

Fields = tuple[int, int, int, int, int, bytes]


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    return sock


def packet(seq: int) -> bytes:
    return RtpPacket(payload_type=0, sequence_number=seq, timestamp=seq * 160, ssrc=42, payload=b"\xff" * 160).serialize()


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    await eventually(predicate, timeout, interval=0.005)


@pytest.fixture
async def transport() -> AsyncIterator[tuple[RtpTransport, list[Fields]]]:
    received: list[Fields] = []
    transport = await RtpTransport.open(bind_host="127.0.0.1", on_packet=lambda *f: received.append(f))
    yield transport, received
    await transport.aclose()


async def test_packets_only_from_the_pinned_remote(transport: tuple[RtpTransport, list[Fields]]) -> None:
    rtp, received = transport
    asterisk, intruder = udp_socket(), udp_socket()
    target = ("127.0.0.1", rtp.local_port)
    try:
        asterisk.sendto(packet(1), target)  # before the remote is known
        await until(lambda: rtp.dropped_wrong_source == 1)
        rtp.set_remote(*asterisk.getsockname())
        asterisk.sendto(packet(2), target)
        intruder.sendto(packet(3), target)
        intruder.sendto(packet(4), target)
        asterisk.sendto(packet(5), target)
        await until(lambda: len(received) == 2 and rtp.dropped_wrong_source == 3)
        assert [f[2] for f in received] == [2, 5]
        assert received[0] == (0, 0, 2, 320, 42, b"\xff" * 160)
        assert rtp.rx_packets == 2
    finally:
        asterisk.close()
        intruder.close()


async def test_garbage_is_dropped_and_counted(transport: tuple[RtpTransport, list[Fields]]) -> None:
    rtp, received = transport
    asterisk = udp_socket()
    rtp.set_remote(*asterisk.getsockname())
    try:
        for garbage in (b"hello", b"\x40" + bytes(20), packet(9)[:11], b"\xa0" + bytes(11)):
            asterisk.sendto(garbage, ("127.0.0.1", rtp.local_port))
        asterisk.sendto(packet(10), ("127.0.0.1", rtp.local_port))
        await until(lambda: len(received) == 1)
        assert rtp.malformed == 4
        assert received[0][2] == 10
    finally:
        asterisk.close()


async def test_symmetric_send_from_the_advertised_socket(transport: tuple[RtpTransport, list[Fields]]) -> None:
    rtp, _ = transport
    asterisk = udp_socket()
    try:
        rtp.send(b"early")
        assert rtp.tx_no_remote == 1
        rtp.set_remote(*asterisk.getsockname())
        rtp.send(packet(1))
        data, source = asterisk.recvfrom(2048)
        assert data == packet(1)
        assert source == ("127.0.0.1", rtp.local_port)
        assert (rtp.tx_packets, rtp.tx_bytes) == (1, len(packet(1)))
        assert rtp.counters()["tx_packets"] == 1
    finally:
        asterisk.close()


def adjacent_ports(count: int) -> list[socket.socket]:
    """`count` sockets bound on consecutive ports."""
    for base in range(41000, 60000, 97):
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return socks
        except OSError:
            for sock in socks:
                sock.close()
    raise RuntimeError("no run of free ports found")


async def test_port_range_skips_busy_ports_and_reports_exhaustion() -> None:
    socks = adjacent_ports(3)
    first = socks[0].getsockname()[1]
    try:
        with pytest.raises(NoFreePortError, match="no free UDP port"):
            await RtpTransport.open(bind_host="127.0.0.1", port_range=(first, first + 2))
        socks.pop().close()  # frees first + 2
        rtp = await RtpTransport.open(bind_host="127.0.0.1", port_range=(first, first + 2))
        try:
            assert rtp.local_port == first + 2
        finally:
            await rtp.aclose()
    finally:
        for sock in socks:
            sock.close()


async def test_bad_port_range() -> None:
    with pytest.raises(ValueError, match="port_range must be"):
        await RtpTransport.open(port_range=(20000, 10000))


async def test_advertise_address_differs_from_bind() -> None:
    rtp = await RtpTransport.open(bind_host="0.0.0.0", advertise_host="192.0.2.10")
    try:
        assert rtp.bind_host == "0.0.0.0"
        assert rtp.advertise_address == f"192.0.2.10:{rtp.local_port}"
    finally:
        await rtp.aclose()
    rtp = await RtpTransport.open(bind_host="127.0.0.1")
    try:
        assert rtp.advertise_address == f"127.0.0.1:{rtp.local_port}"
    finally:
        await rtp.aclose()


async def test_set_remote_validation(transport: tuple[RtpTransport, list[Fields]]) -> None:
    rtp, _ = transport
    with pytest.raises(ValueError, match="remote host must be an IP address, got 'asterisk'"):
        rtp.set_remote("asterisk", 4000)
    with pytest.raises(ValueError, match=r"remote port must be 1\.\.65535"):
        rtp.set_remote("127.0.0.1", 0)
    with pytest.raises(ValueError, match="is IPv6 but the socket is bound on IPv4"):
        rtp.set_remote("::1", 4000)
    rtp.set_remote("127.0.0.1", 4000)
    assert rtp.remote == ("127.0.0.1", 4000)


async def test_close_releases_the_port() -> None:
    rtp = await RtpTransport.open(bind_host="127.0.0.1")
    port = rtp.local_port
    await rtp.aclose()
    again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        again.bind(("127.0.0.1", port))
    finally:
        again.close()

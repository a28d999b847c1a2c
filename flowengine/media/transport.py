"""One symmetric UDP socket per externalMedia channel: bind, port range, source pinning, counters."""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import select
import socket
import struct
from collections.abc import Callable

from flowengine.media.rtp import RTP_HEADER_LENGTH, SIMPLE_FIRST_BYTE, parse_fields

logger = logging.getLogger(__name__)

# (payload_type, marker, sequence_number, timestamp, ssrc, payload)
PacketHandler = Callable[[int, int, int, int, int, bytes], None]

RECV_SIZE = 2048
_FIXED_HEADER = struct.Struct("!BHII")  # after the first byte: marker+PT, sequence, timestamp, SSRC
_unpack_header = _FIXED_HEADER.unpack_from
# Datagrams read per event-loop wake-up (reader mode) and epoll passes per tick (poller mode).
DRAIN_LIMIT = 64
MAX_PASSES = 8

# Ports tried by the next `open()` start after the last one taken, so a busy range is not
# rescanned from its start for every call.
_next_port_offset = 0


class NoFreePortError(OSError):
    """Every port of the configured range is in use."""


class RtpTransport:
    """The UDP socket of one AI call.

    Symmetric RTP: we send from the socket whose address we advertise to Asterisk as
    `external_host`, so strict RTP accepts our packets at once. Packets are accepted only from
    the remote set by `set_remote()` (Asterisk's `UNICASTRTP_LOCAL_ADDRESS:PORT`); anything
    else, and anything before the remote is known, is dropped and counted, as are packets that
    do not parse as RTP.

    A plain non-blocking socket, no asyncio transport: asyncio's datagram path costs several
    microseconds of Python per packet. Reading is either driven by the media clock's
    `Poller` (every socket of the loop drained once per tick, in one epoll pass), or, without
    a poller, by an event-loop reader that drains whatever is waiting on each wake-up.
    """

    def __init__(self, sock: socket.socket, on_packet: PacketHandler | None = None) -> None:
        self._on_packet = on_packet
        self._sock = sock
        self._recvfrom = sock.recvfrom
        self._poller: Poller | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remote: tuple[str, int] | tuple[str, int, int, int] | None = None
        self._family = sock.family
        self.fileno = sock.fileno()
        name = sock.getsockname()
        self.bind_host: str = name[0]
        self.local_port: int = name[1]
        self.advertise_host = self.bind_host
        self.closed = False
        self.rx_packets = 0
        self.rx_bytes = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.dropped_wrong_source = 0
        self.malformed = 0
        self.tx_no_remote = 0
        self.tx_dropped = 0
        self.socket_errors = 0

    @classmethod
    async def open(
        cls,
        *,
        bind_host: str = "127.0.0.1",
        port_range: tuple[int, int] | None = None,
        advertise_host: str | None = None,
        on_packet: PacketHandler | None = None,
        poller: Poller | None = None,
    ) -> RtpTransport:
        """Bind on the first free port of `port_range` (inclusive); `None` lets the OS choose.

        With a `poller` the socket is read when the poller runs (the media clock's tick);
        without, as soon as packets arrive.
        """
        global _next_port_offset
        loop = asyncio.get_running_loop()
        if port_range is None:
            candidates = [0]
        else:
            first, last = port_range
            if not 0 < first <= last <= 65535:
                raise ValueError(f"port_range must be 1 <= first <= last <= 65535, got {port_range}")
            size = last - first + 1
            start = _next_port_offset % size
            candidates = [first + (start + i) % size for i in range(size)]
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        for port in candidates:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.bind((bind_host, port))
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            transport = cls(sock, on_packet)
            transport.advertise_host = advertise_host or bind_host
            if poller is not None:
                poller.register(transport)
                transport._poller = poller
            else:
                loop.add_reader(transport.fileno, transport.drain)
                transport._loop = loop
            if port_range is not None:
                _next_port_offset = port - port_range[0] + 1
            return transport
        raise NoFreePortError(errno.EADDRINUSE, f"no free UDP port in {port_range} on {bind_host}")

    # receiving

    def read(self) -> bool:
        """Read and handle one datagram; False when none is waiting."""
        try:
            data, addr = self._recvfrom(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            # ICMP port unreachable and the like: the peer went away or is not listening yet.
            self.socket_errors += 1
            logger.debug("UDP socket error on port %s: %s", self.local_port, exc)
            return False
        # The common case inline (one call less per packet): Asterisk's plain 12-byte header.
        size = len(data)
        if addr == self._remote and size >= RTP_HEADER_LENGTH and data[0] == SIMPLE_FIRST_BYTE:
            self.rx_packets += 1
            self.rx_bytes += size
            on_packet = self._on_packet
            if on_packet is not None:
                m_pt, seq, ts, ssrc = _unpack_header(data, 1)
                on_packet(m_pt & 0x7F, m_pt >> 7, seq, ts, ssrc, data[RTP_HEADER_LENGTH:])
        else:
            self.datagram_received(data, addr)
        return True

    def drain(self, limit: int = DRAIN_LIMIT) -> int:
        """Read everything waiting (at most `limit` datagrams); returns how many were read."""
        count = 0
        while count < limit and self.read():
            count += 1
        return count

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if addr != self._remote:
            self.dropped_wrong_source += 1
            return
        self.rx_packets += 1
        self.rx_bytes += len(data)
        try:
            fields = parse_fields(data)
        except ValueError as exc:
            self.malformed += 1
            logger.debug("dropped malformed RTP from %s: %s", addr, exc)
            return
        if self._on_packet is not None:
            self._on_packet(*fields)

    # API

    @property
    def advertise_address(self) -> str:
        """`host:port` to give Asterisk as externalMedia's `external_host`."""
        host = self.advertise_host
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.local_port}"

    @property
    def remote(self) -> tuple[str, int] | None:
        if self._remote is None:
            return None
        return self._remote[0], self._remote[1]

    def set_remote(self, host: str, port: int) -> None:
        """Pin the peer: Asterisk's `UNICASTRTP_LOCAL_ADDRESS` and `UNICASTRTP_LOCAL_PORT`."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"remote host must be an IP address, got {host!r}") from None
        if not 0 < port <= 65535:
            raise ValueError(f"remote port must be 1..65535, got {port}")
        if self._family == socket.AF_INET6:
            # A dual-stack socket reports IPv4 peers as IPv4-mapped addresses.
            text = f"::ffff:{address}" if address.version == 4 else str(address)
            self._remote = (text, port, 0, 0)
        else:
            if address.version != 4:
                raise ValueError(f"remote {host} is IPv6 but the socket is bound on IPv4")
            self._remote = (str(address), port)

    def send(self, data: bytes) -> None:
        """Send one datagram to the pinned remote; counted and skipped while it is unknown."""
        remote = self._remote
        if remote is None or self.closed:
            self.tx_no_remote += 1
            return
        try:
            self._sock.sendto(data, remote)
        except BlockingIOError:
            # The kernel buffer is full: a packet queued behind it would be late anyway.
            self.tx_dropped += 1
            return
        except OSError as exc:
            self.socket_errors += 1
            logger.debug("UDP send error on port %s: %s", self.local_port, exc)
            return
        self.tx_packets += 1
        self.tx_bytes += len(data)

    def counters(self) -> dict[str, int]:
        return {
            "rx_packets": self.rx_packets,
            "rx_bytes": self.rx_bytes,
            "tx_packets": self.tx_packets,
            "tx_bytes": self.tx_bytes,
            "dropped_wrong_source": self.dropped_wrong_source,
            "malformed": self.malformed,
            "tx_no_remote": self.tx_no_remote,
            "tx_dropped": self.tx_dropped,
            "socket_errors": self.socket_errors,
        }

    async def aclose(self) -> None:
        """Stop reading and close the socket (the port is free again on return). Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._poller is not None:
            self._poller.unregister(self)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.fileno)
        self._sock.close()


class Poller:
    """The sockets of every session of a loop, drained together by one epoll per pass.

    Level-triggered: a pass reads one datagram from each ready socket; passes repeat until
    nothing is ready (at most `max_passes`, so a flood cannot hold the tick).
    """

    def __init__(self, *, max_passes: int = MAX_PASSES) -> None:
        self._epoll = select.epoll()
        self._transports: dict[int, RtpTransport] = {}
        self._readers: dict[int, Callable[[], bool]] = {}
        self.max_passes = max_passes
        self.passes = 0
        self.errors = 0

    def __len__(self) -> int:
        return len(self._transports)

    def register(self, transport: RtpTransport) -> None:
        self._epoll.register(transport.fileno, select.EPOLLIN)
        self._transports[transport.fileno] = transport
        self._readers[transport.fileno] = transport.read

    def unregister(self, transport: RtpTransport) -> None:
        self._readers.pop(transport.fileno, None)
        if self._transports.pop(transport.fileno, None) is not None:
            self._epoll.unregister(transport.fileno)

    def poll(self) -> int:
        """Read what is waiting on every socket; returns the number of datagrams read."""
        readers = self._readers
        if not readers:
            return 0
        poll = self._epoll.poll
        count = 0
        for _ in range(self.max_passes):
            ready = poll(0)
            if not ready:
                break
            self.passes += 1
            for fd, _ in ready:
                read = readers.get(fd)
                if read is None:
                    continue
                try:
                    if read():
                        count += 1
                except Exception:
                    # One session's failing packet handler must not stop the others' audio.
                    self.errors += 1
                    transport = self._transports.get(fd)
                    logger.exception("packet handling failed on port %s", transport and transport.local_port)
        return count

    def close(self) -> None:
        self._transports.clear()
        self._readers.clear()
        self._epoll.close()

"""One symmetric UDP socket per externalMedia channel: bind, port range, source pinning, counters."""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import cast

from flowengine.media.rtp import parse_fields

logger = logging.getLogger(__name__)

# (payload_type, marker, sequence_number, timestamp, ssrc, payload)
PacketHandler = Callable[[int, int, int, int, int, bytes], None]

# Ports tried by the next `open()` start after the last one taken, so a busy range is not
# rescanned from its start for every call.
_next_port_offset = 0


class NoFreePortError(OSError):
    """Every port of the configured range is in use."""


class RtpTransport(asyncio.DatagramProtocol):
    """The UDP socket of one AI call.

    Symmetric RTP: we send from the socket whose address we advertise to Asterisk as
    `external_host`, so strict RTP accepts our packets at once. Packets are accepted only from
    the remote set by `set_remote()` (Asterisk's `UNICASTRTP_LOCAL_ADDRESS:PORT`); anything
    else, and anything before the remote is known, is dropped and counted, as are packets that
    do not parse as RTP.
    """

    def __init__(self, on_packet: PacketHandler | None = None) -> None:
        self._on_packet = on_packet
        self._transport: asyncio.DatagramTransport | None = None
        self._sock: socket.socket | None = None
        self._backlog: Callable[[], int] | None = None
        self._remote: tuple[str, int] | tuple[str, int, int, int] | None = None
        self._family = socket.AF_INET
        self._closed: asyncio.Future[None] | None = None
        self.bind_host = ""
        self.local_port = 0
        self.advertise_host = ""
        self.rx_packets = 0
        self.rx_bytes = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.dropped_wrong_source = 0
        self.malformed = 0
        self.tx_no_remote = 0
        self.socket_errors = 0

    @classmethod
    async def open(
        cls,
        *,
        bind_host: str = "127.0.0.1",
        port_range: tuple[int, int] | None = None,
        advertise_host: str | None = None,
        on_packet: PacketHandler | None = None,
    ) -> RtpTransport:
        """Bind on the first free port of `port_range` (inclusive); `None` lets the OS choose."""
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
            _, protocol = await loop.create_datagram_endpoint(lambda: cls(on_packet), sock=sock)
            protocol._sock = sock
            if port_range is not None:
                _next_port_offset = port - port_range[0] + 1
            protocol.advertise_host = advertise_host or bind_host
            return protocol
        raise NoFreePortError(errno.EADDRINUSE, f"no free UDP port in {port_range} on {bind_host}")

    # asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport on 3.11.
        self._transport = cast(asyncio.DatagramTransport, transport)
        # Bytes asyncio holds back (both asyncio's and uvloop's datagram transports have it).
        self._backlog = getattr(transport, "get_write_buffer_size", None)
        self._closed = asyncio.get_running_loop().create_future()
        sock = transport.get_extra_info("socket")
        self._family = sock.family
        self.bind_host, self.local_port = sock.getsockname()[:2]

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

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the peer went away or is not listening yet.
        self.socket_errors += 1
        logger.debug("UDP socket error on port %s: %s", self.local_port, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

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
        transport = self._transport
        if remote is None or transport is None or transport.is_closing():
            self.tx_no_remote += 1
            return
        self.tx_packets += 1
        self.tx_bytes += len(data)
        # Straight to the socket: asyncio's sendto() costs a few microseconds of Python per
        # packet. Only when the kernel buffer is full (or asyncio still holds a backlog,
        # which must go first) does asyncio's buffering take over.
        if self._sock is not None and self._backlog is not None and not self._backlog():
            try:
                self._sock.sendto(data, remote)
                return
            except BlockingIOError:
                pass
            except OSError as exc:
                self.error_received(exc)
                return
        transport.sendto(data, remote)

    def counters(self) -> dict[str, int]:
        return {
            "rx_packets": self.rx_packets,
            "rx_bytes": self.rx_bytes,
            "tx_packets": self.tx_packets,
            "tx_bytes": self.tx_bytes,
            "dropped_wrong_source": self.dropped_wrong_source,
            "malformed": self.malformed,
            "tx_no_remote": self.tx_no_remote,
            "socket_errors": self.socket_errors,
        }

    async def aclose(self) -> None:
        """Close the socket and wait until the loop has released it."""
        if self._transport is None:
            return
        self._transport.close()
        if self._closed is not None:
            await self._closed

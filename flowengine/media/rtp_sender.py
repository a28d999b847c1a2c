"""Outbound RTP stream state: our SSRC, sequence numbers, timestamps and talk-spurt marker bits."""
from __future__ import annotations

import secrets
import struct

from flowengine.media.rtp import SIMPLE_FIRST_BYTE

_HEADER = struct.Struct("!BBHII")


class RtpSender:
    """Builds the packets of one outbound stream, one call per 20 ms tick.

    RFC 3550 section 5.1: the sequence number grows by one per packet sent, the timestamp by
    one frame's samples per tick whether or not a packet was sent (so the receiver sees the
    silence gap), and the marker bit is set on the first packet of each talk spurt (the first
    packet ever and the first after idle ticks). Initial values are random, as the RFC asks.
    """

    __slots__ = ("_spurt", "payload_type", "samples_per_frame", "sequence_number", "ssrc", "timestamp")

    def __init__(
        self,
        payload_type: int,
        samples_per_frame: int,
        *,
        ssrc: int | None = None,
        sequence_number: int | None = None,
        timestamp: int | None = None,
    ) -> None:
        self.payload_type = payload_type
        self.samples_per_frame = samples_per_frame
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        self.sequence_number = secrets.randbits(16) if sequence_number is None else sequence_number
        self.timestamp = secrets.randbits(32) if timestamp is None else timestamp
        self._spurt = True

    def packet(self, payload: bytes) -> bytes:
        """The packet carrying `payload` in this tick's slot; advances sequence and timestamp."""
        marker = 0x80 if self._spurt else 0
        self._spurt = False
        data = _HEADER.pack(
            SIMPLE_FIRST_BYTE,
            marker | self.payload_type,
            self.sequence_number,
            self.timestamp,
            self.ssrc,
        ) + payload
        self.sequence_number = (self.sequence_number + 1) & 0xFFFF
        self.timestamp = (self.timestamp + self.samples_per_frame) & 0xFFFFFFFF
        return data

    def skip(self) -> None:
        """Nothing is sent in this tick: time moves on and the next packet starts a talk spurt."""
        self.timestamp = (self.timestamp + self.samples_per_frame) & 0xFFFFFFFF
        self._spurt = True

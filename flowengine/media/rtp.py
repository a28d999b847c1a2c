"""RTP packets (RFC 3550): parse and serialize, plus sequence/timestamp wrap-around arithmetic."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
RTP_HEADER_LENGTH = 12
RTP_SEQ_MODULO = 1 << 16
RTP_TIMESTAMP_MODULO = 1 << 32

# First header byte of the packets Asterisk sends: V=2, no padding, no extension, no CSRC.
SIMPLE_FIRST_BYTE = RTP_VERSION << 6

_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")


def uint16_add(a: int, b: int) -> int:
    """Add two numbers modulo 2**16 (RTP sequence numbers)."""
    return (a + b) & 0xFFFF


def uint32_add(a: int, b: int) -> int:
    """Add two numbers modulo 2**32 (RTP timestamps, SSRC arithmetic)."""
    return (a + b) & 0xFFFFFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance from sequence number `b` to `a`, in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_gt(a: int, b: int) -> bool:
    """True if sequence number `a` comes after `b`, taking wrap-around into account."""
    return seq_diff(a, b) > 0


def timestamp_diff(a: int, b: int) -> int:
    """Signed distance from RTP timestamp `b` to `a`, taking wrap-around into account."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


@dataclass(slots=True)
class HeaderExtension:
    """The RFC 3550 section 5.3.1 header extension, kept opaque."""

    profile: int
    value: bytes


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet, field names as in RFC 3550 section 5.1."""

    payload_type: int = 0
    marker: int = 0
    sequence_number: int = 0
    timestamp: int = 0
    ssrc: int = 0
    csrc: list[int] = field(default_factory=list)
    extension: HeaderExtension | None = None
    payload: bytes = b""
    padding_size: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < RTP_HEADER_LENGTH:
            raise ValueError("RTP packet length is less than 12 bytes")

        v_p_x_cc, m_pt, sequence_number, timestamp, ssrc = _HEADER.unpack_from(data)
        version = v_p_x_cc >> 6
        if version != RTP_VERSION:
            raise ValueError("RTP packet has invalid version")
        padding = (v_p_x_cc >> 5) & 1
        extension = (v_p_x_cc >> 4) & 1
        cc = v_p_x_cc & 0x0F

        pos = RTP_HEADER_LENGTH
        end = pos + 4 * cc
        if end > len(data):
            raise ValueError("RTP packet has truncated CSRC")
        csrc = list(struct.unpack_from(f"!{cc}I", data, pos))
        pos = end

        header_extension = None
        if extension:
            if pos + 4 > len(data):
                raise ValueError("RTP packet has truncated extension profile / length")
            profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
            pos += 4
            end = pos + 4 * words
            if end > len(data):
                raise ValueError("RTP packet has truncated extension value")
            header_extension = HeaderExtension(profile=profile, value=bytes(data[pos:end]))
            pos = end

        padding_size = 0
        end = len(data)
        if padding:
            padding_size = data[-1]
            if padding_size == 0 or padding_size > end - pos:
                raise ValueError("RTP packet padding length is invalid")
            end -= padding_size

        return cls(
            payload_type=m_pt & 0x7F,
            marker=m_pt >> 7,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=ssrc,
            csrc=csrc,
            extension=header_extension,
            payload=bytes(data[pos:end]),
            padding_size=padding_size,
        )

    def serialize(self) -> bytes:
        v_p_x_cc = (
            (RTP_VERSION << 6)
            | ((1 if self.padding_size else 0) << 5)
            | ((1 if self.extension is not None else 0) << 4)
            | len(self.csrc)
        )
        parts = [
            _HEADER.pack(
                v_p_x_cc,
                (self.marker << 7) | self.payload_type,
                self.sequence_number,
                self.timestamp,
                self.ssrc,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            value = self.extension.value
            if len(value) % 4:
                raise ValueError("RTP header extension value must be a multiple of 4 bytes")
            parts.append(_EXTENSION_HEADER.pack(self.extension.profile, len(value) // 4))
            parts.append(value)
        parts.append(self.payload)
        if self.padding_size:
            parts.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)


def parse_fields(data: bytes) -> tuple[int, int, int, int, int, bytes]:
    """Hot-path parse: `(payload_type, marker, sequence_number, timestamp, ssrc, payload)`.

    Asterisk's packets have no padding, extension or CSRC, so the common case costs one
    `unpack_from` and one slice; anything else goes through `RtpPacket.parse` and raises
    the same `ValueError`s.
    """
    if len(data) >= RTP_HEADER_LENGTH and data[0] == SIMPLE_FIRST_BYTE:
        _, m_pt, seq, ts, ssrc = _HEADER.unpack_from(data)
        return m_pt & 0x7F, m_pt >> 7, seq, ts, ssrc, data[RTP_HEADER_LENGTH:]
    packet = RtpPacket.parse(data)
    return (
        packet.payload_type,
        packet.marker,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
        packet.payload,
    )


def build_header(payload_type: int, marker: int, seq: int, timestamp: int, ssrc: int) -> bytes:
    """The 12-byte fixed header of a simple packet (no CSRC, extension or padding)."""
    return _HEADER.pack(SIMPLE_FIRST_BYTE, (marker << 7) | payload_type, seq, timestamp, ssrc)

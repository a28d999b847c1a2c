"""RTP parse/serialize: round trips on recorded packets, every malformed case, wrap-around helpers."""
from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from flowengine.media.rtp import (
    HeaderExtension,
    RtpPacket,
    build_header,
    parse_fields,
    seq_diff,
    seq_gt,
    timestamp_diff,
    uint16_add,
    uint32_add,
)

from .conftest import FIXTURES

PACKETS = json.loads((FIXTURES / "rtp_packets.json").read_text())


@pytest.mark.parametrize("recorded", PACKETS, ids=[p["name"] for p in PACKETS])
def test_recorded_packets_parse_and_round_trip(recorded: dict[str, Any]) -> None:
    data = bytes.fromhex(recorded["hex"])
    packet = RtpPacket.parse(data)
    fields = recorded["fields"]
    assert packet.payload_type == fields["payload_type"]
    assert packet.marker == fields["marker"]
    assert packet.sequence_number == fields["sequence_number"]
    assert packet.timestamp == fields["timestamp"]
    assert packet.ssrc == fields["ssrc"]
    assert packet.csrc == fields["csrc"]
    assert packet.padding_size == fields["padding_size"]
    assert len(packet.payload) == fields["payload_length"]
    if fields["extension"] is None:
        assert packet.extension is None
    else:
        assert packet.extension == HeaderExtension(fields["extension"]["profile"], bytes.fromhex(fields["extension"]["value"]))
    assert packet.serialize() == data


@pytest.mark.parametrize("recorded", PACKETS, ids=[p["name"] for p in PACKETS])
def test_hot_path_parse_agrees_with_full_parse(recorded: dict[str, Any]) -> None:
    data = bytes.fromhex(recorded["hex"])
    packet = RtpPacket.parse(data)
    assert parse_fields(data) == (
        packet.payload_type,
        packet.marker,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
        packet.payload,
    )


def test_build_header_matches_serialize() -> None:
    packet = RtpPacket(payload_type=0, marker=1, sequence_number=65535, timestamp=2**32 - 1, ssrc=7, payload=b"x")
    assert build_header(0, 1, 65535, 2**32 - 1, 7) + b"x" == packet.serialize()


def _header(first: int, *, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", first, pt, 1, 2, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTP packet length is less than 12 bytes"),
        (bytes(11), "RTP packet length is less than 12 bytes"),
        (_header(0x40), "RTP packet has invalid version"),
        (_header(0x00), "RTP packet has invalid version"),
        (_header(0xC0), "RTP packet has invalid version"),
        (_header(0x81) + bytes(3), "RTP packet has truncated CSRC"),
        (_header(0x8F) + bytes(56), "RTP packet has truncated CSRC"),
        (_header(0x90) + bytes(3), "RTP packet has truncated extension profile / length"),
        (_header(0x90) + struct.pack("!HH", 0xBEDE, 2) + bytes(7), "RTP packet has truncated extension value"),
        (_header(0xA0) + b"\x00\x00\x00\x00", "RTP packet padding length is invalid"),
        (_header(0xA0) + b"\x01\x02\x03\x05", "RTP packet padding length is invalid"),
        (_header(0xA0), "RTP packet padding length is invalid"),
    ],
    ids=[
        "empty",
        "11-bytes",
        "version-1",
        "version-0",
        "version-3",
        "csrc-overrun",
        "15-csrc-overrun",
        "extension-header-overrun",
        "extension-value-overrun",
        "padding-zero",
        "padding-beyond-payload",
        "padding-without-payload",
    ],
)
def test_malformed_packets_raise_exact_messages(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        RtpPacket.parse(data)
    assert str(excinfo.value) == message
    with pytest.raises(ValueError) as excinfo:
        parse_fields(data)
    assert str(excinfo.value) == message


def test_padding_that_fills_the_whole_payload_is_valid() -> None:
    packet = RtpPacket.parse(_header(0xA0) + b"\x00\x00\x00\x04")
    assert packet.payload == b""
    assert packet.padding_size == 4


def test_extension_value_must_be_whole_words() -> None:
    packet = RtpPacket(extension=HeaderExtension(0xBEDE, b"abc"))
    with pytest.raises(ValueError, match="multiple of 4 bytes"):
        packet.serialize()


def test_uint_add_wraps() -> None:
    assert uint16_add(65535, 1) == 0
    assert uint16_add(65530, 10) == 4
    assert uint32_add(2**32 - 1, 1) == 0
    assert uint32_add(2**32 - 160, 320) == 160


def test_sequence_comparison_across_wrap() -> None:
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_diff(5, 5) == 0
    assert seq_diff(100, 65500) == 136
    assert seq_gt(2, 65534)
    assert not seq_gt(65534, 2)
    assert not seq_gt(7, 7)
    assert seq_diff(32767, 0) == 32767
    assert seq_diff(32768, 0) == -32768


def test_timestamp_diff_across_wrap() -> None:
    assert timestamp_diff(96, 2**32 - 64) == 160
    assert timestamp_diff(2**32 - 64, 96) == -160

"""Outbound RTP stream state: sequence/timestamp progression, wrap-around, talk-spurt markers."""
from __future__ import annotations

from flowengine.media.rtp import RtpPacket
from flowengine.media.rtp_sender import RtpSender


def test_first_packet_has_marker_then_sequence_and_timestamp_advance() -> None:
    sender = RtpSender(0, 160, ssrc=0xABCD, sequence_number=10, timestamp=1000)
    first = RtpPacket.parse(sender.packet(b"\xff" * 160))
    second = RtpPacket.parse(sender.packet(b"\xff" * 160))
    assert (first.marker, first.sequence_number, first.timestamp, first.ssrc) == (1, 10, 1000, 0xABCD)
    assert (second.marker, second.sequence_number, second.timestamp) == (0, 11, 1160)
    assert first.payload_type == 0 and len(first.payload) == 160


def test_idle_ticks_advance_timestamp_only_and_next_packet_starts_a_talk_spurt() -> None:
    sender = RtpSender(118, 320, ssrc=1, sequence_number=5, timestamp=0)
    sender.packet(b"")
    sender.skip()
    sender.skip()
    packet = RtpPacket.parse(sender.packet(b""))
    assert (packet.marker, packet.sequence_number, packet.timestamp, packet.payload_type) == (1, 6, 960, 118)


def test_wrap_around() -> None:
    sender = RtpSender(0, 160, ssrc=1, sequence_number=65535, timestamp=2**32 - 160)
    a = RtpPacket.parse(sender.packet(b""))
    b = RtpPacket.parse(sender.packet(b""))
    assert (a.sequence_number, a.timestamp) == (65535, 2**32 - 160)
    assert (b.sequence_number, b.timestamp) == (0, 0)


def test_random_initial_values_differ_between_streams() -> None:
    senders = [RtpSender(0, 160) for _ in range(8)]
    assert len({s.ssrc for s in senders}) > 1
    assert len({s.sequence_number for s in senders}) > 1

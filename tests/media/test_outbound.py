"""Playout: resample and encode at queue time, marks through the resampler, flush, barge-in clear, playout waiters."""
from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pytest

from flowengine.media.codecs import get_codec
from flowengine.media.outbound import Playout
from flowengine.media.output import AudioOutput, PlayoutEnd
from flowengine.media.rtp import RtpPacket

from .conftest import dominant_frequency, tone


def make(fmt: str = "ulaw", **kwargs: object) -> tuple[Playout, list[bytes], list[Hashable]]:
    sent: list[bytes] = []
    marks: list[Hashable] = []
    playout = Playout(get_codec(fmt), sent.append, on_mark=marks.append, **kwargs)  # type: ignore[arg-type]
    return playout, sent, marks


def drain(playout: Playout, ticks: int) -> None:
    for _ in range(ticks):
        playout.on_tick()


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000])
def test_tone_at_any_rate_comes_out_as_paced_ulaw(rate: int) -> None:
    playout, sent, _ = make()
    playout.play(tone(440, 1.0, rate), rate)
    playout.flush()
    assert playout.pacer.queued_frames == 50
    drain(playout, 60)
    packets = [RtpPacket.parse(p) for p in sent]
    assert len(packets) == 50
    assert all(len(p.payload) == 160 and p.payload_type == 0 for p in packets)
    assert [p.marker for p in packets[:2]] == [1, 0]
    pcm = get_codec("ulaw").decode(b"".join(p.payload for p in packets))
    assert dominant_frequency(pcm, 8000) == pytest.approx(440, abs=8)


def test_slin16_payloads() -> None:
    playout, sent, _ = make("slin16")
    playout.play(tone(1000, 0.1, 16000), 16000)
    drain(playout, 5)
    packets = [RtpPacket.parse(p) for p in sent]
    assert len(packets) == 5
    assert all(p.payload_type == 118 and len(p.payload) == 640 for p in packets)
    assert packets[1].timestamp - packets[0].timestamp == 320


def test_mark_is_reported_after_the_last_frame_of_its_audio() -> None:
    playout, sent, marks = make()
    playout.play(tone(440, 0.5, 16000), 16000, mark="sentence-1")
    playout.play(tone(440, 0.3, 16000), 16000, mark="sentence-2")
    playout.flush()
    sent_at: dict[Hashable, int] = {}
    for tick in range(60):
        playout.on_tick()
        for mark in marks:
            sent_at.setdefault(mark, len(sent))
        if tick == 10:
            assert marks == []
    assert sent_at == {"sentence-1": 25, "sentence-2": 40}


def test_clear_counts_audio_still_inside_the_resampler_and_drops_its_marks() -> None:
    playout, sent, marks = make()
    playout.play(tone(440, 1.0, 22050), 22050, mark="a")  # not flushed: a tail waits in the resampler
    queued = playout.pacer.queued_frames
    drain(playout, 5)
    result = playout.clear()
    assert result.marks == ("a",)
    assert result.frames > queued - 5
    assert result.ms == result.frames * 20
    assert abs(result.frames - 45) <= 1  # 1 s = 50 frames, 5 were sent
    drain(playout, 3)
    assert len(sent) == 5 and marks == []


def test_rate_change_flushes_the_previous_resampler() -> None:
    playout, _sent, _ = make()
    playout.play(tone(440, 0.2, 22050), 22050)
    playout.play(tone(440, 0.2, 16000), 16000)
    playout.flush()
    assert playout.pacer.queued_frames == 20


def test_idle_silence_and_bytes_input() -> None:
    playout, sent, _ = make(idle_silence=True)
    drain(playout, 2)
    assert [RtpPacket.parse(p).payload for p in sent] == [b"\xff" * 160] * 2
    playout.play(np.zeros(320, dtype=np.int16).tobytes(), 16000)
    playout.flush()
    assert playout.pacer.queued_frames == 1


def test_bad_input() -> None:
    playout, _, _ = make()
    with pytest.raises(ValueError, match="mono PCM16"):
        playout.play(np.zeros((2, 160), dtype=np.int16))
    with pytest.raises(ValueError, match="unsupported sample rate 11025"):
        playout.play(np.zeros(160, dtype=np.int16), 11025)


async def test_wait_for_playout_is_resolved_by_the_tick_that_sends_the_last_frame() -> None:
    playout, sent, _ = make()
    playout.play(tone(440, 0.1, 16000), 16000)  # 5 frames
    playout.flush()
    played = playout.wait_for_playout()
    drain(playout, 4)
    assert not played.done()
    playout.on_tick()  # the fifth and last frame
    assert played.done() and len(sent) == 5  # resolved inside the tick, not found later by a poll
    assert played.result() == PlayoutEnd() and not played.result().interrupted
    assert playout.wait_for_playout().done()  # nothing queued: at once


async def test_pause_holds_the_waiter_and_clear_resolves_it_as_interrupted() -> None:
    playout, _, _ = make()
    playout.play(tone(440, 0.2, 16000), 16000, mark="m")
    playout.flush()
    played = playout.wait_for_playout()
    drain(playout, 2)
    playout.pause()
    drain(playout, 20)
    assert not played.done() and playout.queued_ms == 160
    abandoned = playout.wait_for_playout()
    abandoned.cancel()  # a waiter that gave up is skipped, not set
    result = playout.clear()
    assert played.done() and played.result().cleared == result and played.result().interrupted
    assert result.frames == 8 and result.marks == ("m",)


async def test_a_closed_output_resolves_its_waiters_and_takes_no_more_audio() -> None:
    playout, _, _ = make()
    playout.play(tone(440, 0.2, 16000), 16000)
    playout.flush()
    played = playout.wait_for_playout()
    playout.close()
    assert played.result().interrupted
    with pytest.raises(RuntimeError, match="closed"):
        playout.play(tone(440, 0.1, 16000))


def test_playout_is_an_audio_output() -> None:
    playout, _, marks = make()
    output: AudioOutput = playout
    seen: list[Hashable] = []
    output.on_mark = seen.append
    output.play(tone(440, 0.04, 16000), 16000, mark="x")
    output.flush()
    assert output.queued_ms == 40
    drain(playout, 2)
    assert seen == ["x"] and marks == []
